package io.annals.capture;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Unchanged TOAST values: PostgreSQL does not send a large, out-of-line value that an UPDATE did
 * not change, so the worker must fill it in from the row's last known image, wherever that image
 * is (the same batch, the snapshot, or the change log after a restart).
 */
class CaptureToastTest extends CaptureTestSupport {

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /** 100 KB of random text: pglz cannot compress it, so it is stored out of line. */
    static String incompressible(int length) {
        StringBuilder sb = new StringBuilder(length);
        for (int i = 0; i < length; i++) sb.append(ALPHABET.charAt(RANDOM.nextInt(ALPHABET.length())));
        return sb.toString();
    }

    private static void createTable(String url) {
        sql(url, "CREATE TABLE docs (id int PRIMARY KEY, n int NOT NULL, body text, meta jsonb)");
    }

    private static void insertDoc(String url, int id) {
        try (Connection c = TestPostgres.connect(url);
             PreparedStatement ps = c.prepareStatement(
                     "INSERT INTO docs VALUES (?, 0, ?, jsonb_build_object('blob', ?::text, 'k', 1))")) {
            ps.setInt(1, id);
            ps.setString(2, incompressible(100_000));
            ps.setString(3, incompressible(100_000));
            ps.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The latest image of each row matches the live row exactly, large values included. */
    private static void assertLatestImagesMatchLiveRows(String url) {
        List<List<String>> rows = query(url, "SELECT t.id, c.operation, c.after IS NOT NULL,"
                + " c.after -> 'body' = to_jsonb(t.body), c.after -> 'meta' = t.meta, c.after = to_jsonb(t),"
                + " coalesce(length(c.after ->> 'body'), -1)"
                + " FROM docs t JOIN LATERAL (SELECT * FROM annals.changes c WHERE c.\"table\" = 'docs'"
                + " AND c.primary_key = jsonb_build_object('id', t.id) ORDER BY c.position DESC LIMIT 1) c ON true"
                + " ORDER BY t.id");
        assertThat(rows).as("every live row has a change").hasSize(Integer.parseInt(scalar(url, "SELECT count(*) FROM docs")));
        for (List<String> r : rows) {
            assertThat(r.get(2)).as("row %s has an after image (%s)", r.get(0), r.get(1)).isEqualTo("t");
            assertThat(r.get(6)).as("length of body in the after image of row %s", r.get(0)).isEqualTo("100000");
            assertThat(r.get(3)).as("body of row %s (%s) is the full value", r.get(0), r.get(1)).isEqualTo("t");
            assertThat(r.get(4)).as("meta of row %s (%s) is the full value", r.get(0), r.get(1)).isEqualTo("t");
            assertThat(r.get(5)).as("after image of row %s equals to_jsonb", r.get(0)).isEqualTo("t");
        }
    }

    /** Precondition: the large values are stored out of line, so an UPDATE of another column does not send them. */
    private static void assertStoredOutOfLine(String url) {
        assertThat(scalar(url, "SELECT bool_and(pg_column_toast_chunk_id(body) IS NOT NULL"
                + " AND (pg_column_toast_chunk_id(meta) IS NOT NULL OR NOT meta ? 'blob')) FROM docs"))
                .as("every body and large meta value is an on-disk TOAST value").isEqualTo("t");
    }

    @Test
    void unchangedToastValueIsFilledFromTheRowsEarlierStreamedImage() {
        String url = newDatabase("cap_toast_stream");
        createTable(url);
        try (CaptureWorker worker = start(url)) {
            insertDoc(url, 1);
            insertDoc(url, 2);
            worker.awaitCaughtUp(CATCH_UP);
            sql(url, "UPDATE docs SET n = n + 1 WHERE id = 1");
            worker.awaitCaughtUp(CATCH_UP);
            sql(url, "UPDATE docs SET n = n + 1"); // both rows: one image cached, one fetched or cached
            worker.awaitCaughtUp(CATCH_UP);
            assertStoredOutOfLine(url);
            List<Change> updates = changes(url, "\"table\" = 'docs' AND operation = 'UPDATE'");
            assertThat(updates).hasSize(3);
            for (Change u : updates) {
                assertThat(u.changedColumns()).as("changed columns of %s", u.primaryKey()).containsExactly("n");
                assertThat(u.after().get("body").asText()).hasSize(100_000);
            }
            assertLatestImagesMatchLiveRows(url);
            assertThat(scalar(url, "SELECT count(*) FROM annals.changes WHERE after::text LIKE '%unchanged-toast%'")).isEqualTo("0");
        }
    }

    @Test
    void insertAndUpdateInOneTransaction() throws SQLException {
        String url = newDatabase("cap_toast_same_tx");
        createTable(url);
        try (CaptureWorker worker = start(url)) {
            try (Connection c = TestPostgres.connect(url)) {
                c.setAutoCommit(false);
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO docs VALUES (1, 0, ?, '{}')")) {
                    ps.setString(1, incompressible(100_000));
                    ps.executeUpdate();
                }
                c.createStatement().execute("UPDATE docs SET n = 5 WHERE id = 1");
                c.commit();
            }
            worker.awaitCaughtUp(CATCH_UP);
            assertThat(scalar(url, "SELECT pg_column_toast_chunk_id(body) IS NOT NULL FROM docs")).isEqualTo("t");
            List<Change> changes = changesOf(url, "docs");
            assertThat(changes).extracting(Change::operation).containsExactly("CREATE", "UPDATE");
            assertThat(changes.get(1).changedColumns()).containsExactly("n");
            assertLatestImagesMatchLiveRows(url);
        }
    }

    @Test
    void unchangedToastValueIsFilledFromTheSnapshot() {
        String url = newDatabase("cap_toast_snapshot");
        createTable(url);
        insertDoc(url, 1);
        insertDoc(url, 2);
        try (CaptureWorker worker = start(url)) {
            sql(url, "UPDATE docs SET n = 7 WHERE id = 1");
            sql(url, "UPDATE docs SET n = 8, meta = '{\"small\": true}' WHERE id = 2");
            worker.awaitCaughtUp(CATCH_UP);
            assertStoredOutOfLine(url);
            List<Change> updates = changes(url, "\"table\" = 'docs' AND operation = 'UPDATE'");
            assertThat(updates).hasSize(2);
            assertThat(updates.get(0).changedColumns()).containsExactly("n");
            assertThat(updates.get(1).changedColumns()).containsExactlyInAnyOrder("n", "meta");
            assertLatestImagesMatchLiveRows(url);
        }
    }

    @Test
    void unchangedToastValueIsFilledFromTheChangeLogAfterARestart() {
        String url = newDatabase("cap_toast_restart");
        createTable(url);
        try (CaptureWorker worker = start(url)) {
            insertDoc(url, 1);
            insertDoc(url, 2);
            worker.awaitCaughtUp(CATCH_UP);
        }
        // Changed while no worker runs: the new worker knows the rows only from annals.changes.
        sql(url, "UPDATE docs SET n = 1 WHERE id = 1");
        try (CaptureWorker worker = start(url)) {
            sql(url, "UPDATE docs SET n = 2 WHERE id = 2");
            worker.awaitCaughtUp(CATCH_UP);
            assertStoredOutOfLine(url);
            List<Change> updates = changes(url, "\"table\" = 'docs' AND operation = 'UPDATE'");
            assertThat(updates).hasSize(2);
            assertThat(updates).allSatisfy(u -> assertThat(u.changedColumns()).containsExactly("n"));
            assertLatestImagesMatchLiveRows(url);
        }
    }

    @Test
    void primaryKeyChangeOfARowWithAnUnchangedToastValue() {
        String url = newDatabase("cap_toast_key");
        createTable(url);
        insertDoc(url, 1);
        try (CaptureWorker worker = start(url)) {
            sql(url, "UPDATE docs SET id = 10 WHERE id = 1");
            sql(url, "UPDATE docs SET n = 3 WHERE id = 10");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> updates = changes(url, "\"table\" = 'docs' AND operation = 'UPDATE'");
            assertThat(updates).hasSize(2);
            assertThat(updates.get(0).before()).isEqualTo(object("id", 1));
            assertThat(updates.get(0).primaryKey()).isEqualTo(object("id", 10));
            assertThat(updates.get(0).changedColumns()).containsExactly("id");
            assertThat(updates.get(1).changedColumns()).containsExactly("n");
            assertLatestImagesMatchLiveRows(url);
        }
    }

    @Test
    void replicaIdentityFullFillsUnchangedValuesToo() {
        String url = newDatabase("cap_toast_full");
        createTable(url);
        insertDoc(url, 1);
        try (CaptureWorker worker = start(options(url).replicaIdentityFull(true))) {
            sql(url, "UPDATE docs SET n = 3 WHERE id = 1");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> updates = changes(url, "\"table\" = 'docs' AND operation = 'UPDATE'");
            assertThat(updates).hasSize(1);
            assertThat(updates.get(0).changedColumns()).containsExactly("n");
            assertThat(updates.get(0).before().get("body").asText()).hasSize(100_000);
            assertLatestImagesMatchLiveRows(url);
        }
    }
}
