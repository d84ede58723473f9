package io.annals.capture;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** DDL while the worker streams: every change is recorded with the columns the row had when it changed. */
class CaptureSchemaChangeTest extends CaptureTestSupport {

    @Test
    void addColumnMidStream() {
        String url = newDatabase("cap_add_col");
        sql(url, "CREATE TABLE t (id int PRIMARY KEY, a text)");
        try (CaptureWorker worker = start(url)) {
            sql(url, "INSERT INTO t VALUES (1, 'x')");
            sql(url, "ALTER TABLE t ADD COLUMN b int DEFAULT 5");
            sql(url, "INSERT INTO t VALUES (2, 'y', 6)");
            sql(url, "UPDATE t SET a = 'z' WHERE id = 1");
            sql(url, "ALTER TABLE t ADD COLUMN c jsonb");
            sql(url, "UPDATE t SET c = '{\"k\": [1, 2]}' WHERE id = 2");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = changesOf(url, "t");
            assertThat(changes).extracting(Change::operation).containsExactly("CREATE", "CREATE", "UPDATE", "UPDATE");
            assertThat(changes.get(0).after()).isEqualTo(object("id", 1, "a", "x"));
            assertThat(changes.get(1).after()).isEqualTo(object("id", 2, "a", "y", "b", 6));
            assertThat(changes.get(2).after()).isEqualTo(object("id", 1, "a", "z", "b", 5));
            assertThat(changes.get(2).changedColumns()).contains("a").doesNotContain("id");
            assertThat(changes.get(3).after()).isEqualTo(object("id", 2, "a", "y", "b", 6, "c", object("k", List.of(1, 2))));
            assertThat(changes.get(3).changedColumns()).containsExactly("c");
            // Row 2's latest image is the live row, column c included.
            assertThat(scalar(url, "SELECT c.after = to_jsonb(t) FROM t, annals.changes c WHERE t.id = 2 AND c.position = '"
                    + changes.get(3).position() + "'")).isEqualTo("t");
        }
    }

    @Test
    void dropColumnMidStream() {
        String url = newDatabase("cap_drop_col");
        sql(url, "CREATE TABLE t (id int PRIMARY KEY, a text, secret text, b int)");
        try (CaptureWorker worker = start(url)) {
            sql(url, "INSERT INTO t VALUES (1, 'x', 's', 1)");
            sql(url, "ALTER TABLE t DROP COLUMN secret");
            sql(url, "INSERT INTO t VALUES (2, 'y', 2)");
            sql(url, "UPDATE t SET b = 10 WHERE id = 1");
            sql(url, "DELETE FROM t WHERE id = 2");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = changesOf(url, "t");
            assertThat(changes).extracting(Change::operation).containsExactly("CREATE", "CREATE", "UPDATE", "DELETE");
            assertThat(changes.get(0).after()).isEqualTo(object("id", 1, "a", "x", "secret", "s", "b", 1));
            assertThat(changes.get(1).after()).isEqualTo(object("id", 2, "a", "y", "b", 2));
            assertThat(changes.get(2).after()).isEqualTo(object("id", 1, "a", "x", "b", 10));
            assertThat(changes.get(2).changedColumns()).containsExactly("b");
            assertHistoryReplaysToLiveTable(url, "t", List.of("id"));
        }
    }

    @Test
    void alterColumnTypeMidStream() {
        String url = newDatabase("cap_alter_type");
        sql(url, "CREATE TABLE t (id int PRIMARY KEY, qty int, code int)");
        try (CaptureWorker worker = start(url)) {
            sql(url, "INSERT INTO t VALUES (1, 3, 42)");
            sql(url, "ALTER TABLE t ALTER COLUMN code TYPE text USING 'c-' || code");
            sql(url, "ALTER TABLE t ALTER COLUMN qty TYPE numeric(10,2)");
            sql(url, "INSERT INTO t VALUES (2, 1.5, 'c-7')");
            sql(url, "UPDATE t SET qty = qty + 1 WHERE id = 1");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = changesOf(url, "t");
            assertThat(changes).extracting(Change::operation).containsExactly("CREATE", "CREATE", "UPDATE");
            assertThat(changes.get(0).after()).isEqualTo(object("id", 1, "qty", 3, "code", 42));
            assertThat(changes.get(1).after().get("code").isTextual()).isTrue();
            assertThat(changes.get(1).after().get("qty").decimalValue()).isEqualByComparingTo("1.50");
            assertThat(changes.get(2).after().get("code").asText()).isEqualTo("c-42");
            assertThat(changes.get(2).after().get("qty").decimalValue()).isEqualByComparingTo("4.00");
            // Stored images are what to_jsonb says of the live rows, in their new types.
            assertThat(query(url, "SELECT bool_and(c.after = to_jsonb(t)) FROM t JOIN LATERAL (SELECT after FROM annals.changes c"
                    + " WHERE c.\"table\" = 't' AND c.primary_key = jsonb_build_object('id', t.id) ORDER BY position DESC LIMIT 1) c ON true"))
                    .containsExactly(List.of("t"));
        }
    }

    @Test
    void tableCreatedWhileTheWorkerRuns() {
        String url = newDatabase("cap_new_table");
        sql(url, "CREATE TABLE existing (id int PRIMARY KEY)");
        try (CaptureWorker worker = start(url)) {
            sql(url, "INSERT INTO existing VALUES (1)");
            worker.awaitCaughtUp(CATCH_UP);
            sql(url, "CREATE TABLE later (code text, n int, note text, PRIMARY KEY (code, n))",
                    "CREATE TABLE later_no_pk (v int)");
            sql(url, "INSERT INTO later VALUES ('a', 1, 'first'), ('b', 2, null)",
                    "UPDATE later SET note = 'second' WHERE code = 'b'",
                    "INSERT INTO later_no_pk VALUES (1)",
                    "UPDATE later_no_pk SET v = 2");
            TestPostgres.transaction(url, "CREATE TABLE in_tx (id int PRIMARY KEY, v text)", "INSERT INTO in_tx VALUES (1, 'same tx')");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> later = changesOf(url, "later");
            assertThat(later).extracting(Change::operation).containsExactly("CREATE", "CREATE", "UPDATE");
            assertThat(later.get(0).primaryKey()).isEqualTo(object("code", "a", "n", 1));
            assertThat(later.get(0).after()).isEqualTo(object("code", "a", "n", 1, "note", "first"));
            assertThat(later.get(2).before()).isEqualTo(object("code", "b", "n", 2));
            assertThat(later.get(2).after()).isEqualTo(object("code", "b", "n", 2, "note", "second"));
            assertThat(later.get(2).changedColumns()).containsExactly("note");
            List<Change> noPk = changesOf(url, "later_no_pk");
            assertThat(noPk).extracting(Change::operation).containsExactly("CREATE", "UPDATE");
            assertThat(noPk).extracting(Change::primaryKey).containsOnlyNulls();
            assertThat(noPk.get(0).after()).isEqualTo(object("v", 1));
            assertThat(noPk.get(1).before()).as("full old row").isEqualTo(object("v", 1));
            assertThat(noPk.get(1).after()).isEqualTo(object("v", 2));
            List<Change> inTx = changesOf(url, "in_tx");
            assertThat(inTx).hasSize(1);
            assertThat(inTx.get(0).primaryKey()).isEqualTo(object("id", 1));
            assertThat(inTx.get(0).after()).isEqualTo(object("id", 1, "v", "same tx"));
        }
    }

    @Test
    void renamedColumnIsRecordedUnderItsNewName() {
        String url = newDatabase("cap_rename_col");
        sql(url, "CREATE TABLE t (id int PRIMARY KEY, old_name text)");
        try (CaptureWorker worker = start(url)) {
            sql(url, "INSERT INTO t VALUES (1, 'v')");
            sql(url, "ALTER TABLE t RENAME COLUMN old_name TO new_name");
            sql(url, "UPDATE t SET new_name = 'w' WHERE id = 1");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = changesOf(url, "t");
            assertThat(changes).hasSize(2);
            assertThat(changes.get(1).after()).isEqualTo(object("id", 1, "new_name", "w"));
            assertThat(changes.get(1).changedColumns()).contains("new_name");
        }
    }
}
