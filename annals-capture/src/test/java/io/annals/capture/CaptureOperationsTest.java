package io.annals.capture;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** INSERT, UPDATE, DELETE and TRUNCATE as they arrive in the change log, and the shape of each row. */
class CaptureOperationsTest extends CaptureTestSupport {

    @Test
    void insertUpdateDeleteTruncateAreCapturedWithTheirImages() {
        String url = newDatabase("cap_ops");
        sql(url, "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int)");
        String database = databaseName(url);
        try (CaptureWorker worker = start(url)) {
            OffsetDateTime t0 = OffsetDateTime.now();
            long insertXid = TestPostgres.transaction(url, "INSERT INTO items VALUES (1, 'apple', 3)").xid();
            long updateXid = TestPostgres.transaction(url, "UPDATE items SET qty = 4 WHERE id = 1").xid();
            long deleteXid = TestPostgres.transaction(url, "DELETE FROM items WHERE id = 1").xid();
            sql(url, "INSERT INTO items VALUES (2, 'pear', NULL), (3, 'plum', 1)");
            long truncateXid = TestPostgres.transaction(url, "TRUNCATE items").xid();
            OffsetDateTime t1 = OffsetDateTime.now();
            worker.awaitCaughtUp(CATCH_UP);

            List<Change> changes = changesOf(url, "items");
            assertThat(changes).extracting(Change::operation)
                    .containsExactly("CREATE", "UPDATE", "DELETE", "CREATE", "CREATE", "TRUNCATE");
            assertPositionsStrictlyIncreasing(changes);
            for (Change c : changes) {
                assertThat(c.database()).isEqualTo(database);
                assertThat(c.schema()).isEqualTo("public");
                assertThat(c.table()).isEqualTo("items");
                assertThat(c.context()).isEqualTo(object());
                assertThat(c.committedAt().toInstant()).isBetween(t0.minusSeconds(5).toInstant(), t1.plusSeconds(5).toInstant());
            }

            Change insert = changes.get(0);
            assertThat(insert.transactionId()).isEqualTo(insertXid);
            assertThat(insert.primaryKey()).isEqualTo(object("id", 1));
            assertThat(insert.before()).isNull();
            assertThat(insert.after()).isEqualTo(object("id", 1, "name", "apple", "qty", 3));
            assertThat(insert.changedColumns()).containsExactly("id", "name", "qty");

            Change update = changes.get(1);
            assertThat(update.transactionId()).isEqualTo(updateXid);
            assertThat(update.primaryKey()).isEqualTo(object("id", 1));
            assertThat(update.before()).isEqualTo(object("id", 1));
            assertThat(update.after()).isEqualTo(object("id", 1, "name", "apple", "qty", 4));
            assertThat(update.changedColumns()).containsExactly("qty");

            Change delete = changes.get(2);
            assertThat(delete.transactionId()).isEqualTo(deleteXid);
            assertThat(delete.primaryKey()).isEqualTo(object("id", 1));
            assertThat(delete.before()).isEqualTo(object("id", 1));
            assertThat(delete.after()).isNull();

            assertThat(changes.get(3).after()).isEqualTo(object("id", 2, "name", "pear", "qty", null));
            assertThat(changes.get(3).transactionId()).isEqualTo(changes.get(4).transactionId());
            assertThat(changes.get(3).lsnPart()).as("one transaction, one commit LSN").isEqualTo(changes.get(4).lsnPart());
            assertThat(changes.get(4).ordinal()).isEqualTo(changes.get(3).ordinal() + 1);

            Change truncate = changes.get(5);
            assertThat(truncate.transactionId()).isEqualTo(truncateXid);
            assertThat(truncate.primaryKey()).isNull();
            assertThat(truncate.before()).isNull();
            assertThat(truncate.after()).isNull();

            // Each transaction's changes carry one commit time, in commit order.
            for (int i = 1; i < changes.size(); i++) {
                assertThat(changes.get(i).committedAt()).isAfterOrEqualTo(changes.get(i - 1).committedAt());
            }
            assertThat(changes.get(0).committedAt()).isBefore(changes.get(5).committedAt());
            assertWholeLogOrdered(url);
        }
    }

    @Test
    void committedAtIsTheSourceCommitTime() {
        String url = newDatabase("cap_commit_time");
        sql(url, "CREATE TABLE t (id int PRIMARY KEY, v text)",
                "CREATE TABLE commit_times (xid bigint, at timestamptz)");
        try (CaptureWorker worker = start(url)) {
            sql(url, "INSERT INTO t VALUES (1, 'a')");
            OffsetDateTime before = OffsetDateTime.parse(scalar(url, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC',"
                    + " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"));
            sql(url, "INSERT INTO t VALUES (2, 'b')");
            OffsetDateTime after = OffsetDateTime.parse(scalar(url, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC',"
                    + " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"));
            worker.awaitCaughtUp(CATCH_UP);
            Change second = changesOf(url, "t").get(1);
            assertThat(second.committedAt()).isAfterOrEqualTo(before).isBeforeOrEqualTo(after);
            assertThat(Duration.between(second.committedAt(), after).abs()).isLessThan(Duration.ofSeconds(5));
            assertThat(second.committedAt().toEpochSecond()).isCloseTo(after.toEpochSecond(), within(5L));
        }
    }

    @Test
    void bulkUpdateProducesOneChangePerRow() {
        String url = newDatabase("cap_bulk");
        sql(url, "CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)",
                "INSERT INTO items SELECT g, 0 FROM generate_series(1, 50) g");
        try (CaptureWorker worker = start(url)) {
            long xid = TestPostgres.transaction(url, "UPDATE items SET qty = qty + id WHERE id <= 30").xid();
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> updates = changes(url, "\"table\" = 'items' AND operation = 'UPDATE'");
            assertThat(updates).hasSize(30);
            assertThat(updates).extracting(Change::transactionId).containsOnly(xid);
            assertThat(updates).extracting(Change::lsnPart).containsOnly(updates.get(0).lsnPart());
            assertThat(updates).extracting(Change::committedAt).containsOnly(updates.get(0).committedAt());
            assertThat(updates).extracting(c -> c.primaryKey().get("id").asInt())
                    .containsExactlyInAnyOrderElementsOf(java.util.stream.IntStream.rangeClosed(1, 30).boxed().toList());
            for (Change c : updates) {
                int id = c.primaryKey().get("id").asInt();
                assertThat(c.after()).isEqualTo(object("id", id, "qty", id));
                assertThat(c.changedColumns()).containsExactly("qty");
            }
            assertPositionsStrictlyIncreasing(updates);
            assertThat(updates.get(29).ordinal() - updates.get(0).ordinal()).isEqualTo(29);
            assertThat(changes(url, "operation = 'SNAPSHOT'")).hasSize(50);
        }
    }

    @Test
    void replicaIdentityDefaultGivesKeyOnlyBeforeAndExactChangedColumns() {
        String url = newDatabase("cap_ri_default");
        sql(url, "CREATE TABLE people (id int PRIMARY KEY, name text, age int, city text)",
                "INSERT INTO people VALUES (1, 'ann', 30, 'oslo')");
        try (CaptureWorker worker = start(url)) {
            sql(url, "INSERT INTO people VALUES (2, 'bob', 40, 'rome')");
            // Sets name to the value it already has: not a change.
            sql(url, "UPDATE people SET name = 'ann', age = 31 WHERE id = 1");
            sql(url, "UPDATE people SET city = NULL WHERE id = 2");
            sql(url, "UPDATE people SET city = 'bonn', name = 'bo' WHERE id = 2");
            sql(url, "UPDATE people SET age = age WHERE id = 2");
            worker.awaitCaughtUp(CATCH_UP);
            assertThat(scalar(url, "SELECT relreplident FROM pg_class WHERE oid = 'people'::regclass")).isEqualTo("d");
            List<Change> updates = changes(url, "\"table\" = 'people' AND operation = 'UPDATE'");
            assertThat(updates).hasSize(4);
            assertThat(updates).extracting(Change::before)
                    .containsExactly(object("id", 1), object("id", 2), object("id", 2), object("id", 2));
            assertThat(updates.get(0).after()).isEqualTo(object("id", 1, "name", "ann", "age", 31, "city", "oslo"));
            assertThat(updates.get(0).changedColumns()).as("diffed against the snapshot image").containsExactly("age");
            assertThat(updates.get(1).changedColumns()).containsExactly("city");
            assertThat(updates.get(2).changedColumns()).containsExactlyInAnyOrder("name", "city");
            assertThat(updates.get(3).changedColumns()).isEmpty();
        }
    }

    /**
     * A column that is NULL before and after an UPDATE did not change. For a key-only table the
     * worker learns the old value from the row's last image, where NULL must compare equal to NULL.
     */
    @Test
    void unchangedNullColumnIsNotReportedAsChangedWithKeyOnlyBeforeImages() {
        String url = newDatabase("cap_null_unchanged");
        sql(url, "CREATE TABLE people (id int PRIMARY KEY, name text, nickname text)",
                "INSERT INTO people VALUES (1, 'ann', NULL)");
        try (CaptureWorker worker = start(url)) {
            sql(url, "INSERT INTO people VALUES (2, 'bob', NULL)");
            sql(url, "UPDATE people SET name = 'bobby' WHERE id = 2"); // last image from this batch or the cache
            worker.awaitCaughtUp(CATCH_UP);
            sql(url, "UPDATE people SET name = 'anna' WHERE id = 1"); // last image fetched from the snapshot row
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> updates = changes(url, "\"table\" = 'people' AND operation = 'UPDATE'");
            assertThat(updates).hasSize(2);
            assertThat(updates.get(0).after()).isEqualTo(object("id", 2, "name", "bobby", "nickname", null));
            org.assertj.core.api.SoftAssertions.assertSoftly(soft -> {
                soft.assertThat(updates.get(0).changedColumns()).as("changed columns of %s (image from this worker)", updates.get(0))
                        .containsExactly("name");
                soft.assertThat(updates.get(1).changedColumns()).as("changed columns of %s (image from the snapshot)", updates.get(1))
                        .containsExactly("name");
            });
        }
    }

    @Test
    void replicaIdentityFullOptionGivesFullBeforeImages() {
        String url = newDatabase("cap_ri_full");
        sql(url, "CREATE TABLE people (id int PRIMARY KEY, name text, age int, city text)",
                "INSERT INTO people VALUES (1, 'ann', 30, 'oslo')");
        try (CaptureWorker worker = start(options(url).replicaIdentityFull(true))) {
            assertThat(scalar(url, "SELECT relreplident FROM pg_class WHERE oid = 'people'::regclass")).isEqualTo("f");
            sql(url, "UPDATE people SET name = 'ann', age = 31 WHERE id = 1");
            sql(url, "UPDATE people SET city = NULL, name = 'anna' WHERE id = 1");
            sql(url, "DELETE FROM people WHERE id = 1");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = streamedChangesOf(url, "people");
            assertThat(changes).extracting(Change::operation).containsExactly("UPDATE", "UPDATE", "DELETE");
            assertThat(changes.get(0).before()).isEqualTo(object("id", 1, "name", "ann", "age", 30, "city", "oslo"));
            assertThat(changes.get(0).after()).isEqualTo(object("id", 1, "name", "ann", "age", 31, "city", "oslo"));
            assertThat(changes.get(0).changedColumns()).containsExactly("age");
            assertThat(changes.get(1).before()).isEqualTo(object("id", 1, "name", "ann", "age", 31, "city", "oslo"));
            assertThat(changes.get(1).changedColumns()).containsExactlyInAnyOrder("name", "city");
            assertThat(changes.get(2).before()).isEqualTo(object("id", 1, "name", "anna", "age", 31, "city", null));
            assertThat(changes.get(2).primaryKey()).isEqualTo(object("id", 1));
        }
    }

    @Test
    void compositePrimaryKeys() {
        String url = newDatabase("cap_composite");
        sql(url, "CREATE TABLE stock (warehouse text, sku int, qty int, PRIMARY KEY (sku, warehouse))");
        try (CaptureWorker worker = start(url)) {
            sql(url, "INSERT INTO stock VALUES ('north', 7, 1)");
            sql(url, "UPDATE stock SET qty = 2 WHERE warehouse = 'north' AND sku = 7");
            sql(url, "UPDATE stock SET warehouse = 'south' WHERE sku = 7");
            sql(url, "DELETE FROM stock WHERE sku = 7");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = changesOf(url, "stock");
            assertThat(changes).extracting(Change::operation).containsExactly("CREATE", "UPDATE", "UPDATE", "DELETE");
            assertThat(changes.get(0).primaryKey()).isEqualTo(object("sku", 7, "warehouse", "north"));
            assertThat(changes.get(1).before()).isEqualTo(object("sku", 7, "warehouse", "north"));
            assertThat(changes.get(1).changedColumns()).containsExactly("qty");
            Change keyChange = changes.get(2);
            assertThat(keyChange.before()).as("old key").isEqualTo(object("sku", 7, "warehouse", "north"));
            assertThat(keyChange.primaryKey()).as("new key").isEqualTo(object("sku", 7, "warehouse", "south"));
            assertThat(keyChange.after()).isEqualTo(object("warehouse", "south", "sku", 7, "qty", 2));
            assertThat(keyChange.changedColumns()).containsExactly("warehouse");
            assertThat(changes.get(3).primaryKey()).isEqualTo(object("sku", 7, "warehouse", "south"));
            assertThat(changes.get(3).before()).isEqualTo(object("sku", 7, "warehouse", "south"));
        }
    }

    @Test
    void primaryKeyChangeKeepsOldKeyInBeforeAndFollowsTheRow() {
        String url = newDatabase("cap_key_change");
        sql(url, "CREATE TABLE t (id int PRIMARY KEY, v text, w int)");
        try (CaptureWorker worker = start(url)) {
            sql(url, "INSERT INTO t VALUES (1, 'x', 10)");
            sql(url, "UPDATE t SET id = 2 WHERE id = 1");
            sql(url, "UPDATE t SET w = 11 WHERE id = 2");
            sql(url, "INSERT INTO t VALUES (1, 'new', 0)");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = changesOf(url, "t");
            assertThat(changes).extracting(Change::operation).containsExactly("CREATE", "UPDATE", "UPDATE", "CREATE");
            Change keyChange = changes.get(1);
            assertThat(keyChange.before()).isEqualTo(object("id", 1));
            assertThat(keyChange.primaryKey()).isEqualTo(object("id", 2));
            assertThat(keyChange.after()).isEqualTo(object("id", 2, "v", "x", "w", 10));
            assertThat(keyChange.changedColumns()).containsExactly("id");
            assertThat(changes.get(2).changedColumns()).as("diffed against the image stored under the new key")
                    .containsExactly("w");
            assertHistoryReplaysToLiveTable(url, "t", List.of("id"));
        }
    }

    @Test
    void tablesWithoutPrimaryKeyGetReplicaIdentityFull() {
        String url = newDatabase("cap_no_pk");
        sql(url, "CREATE TABLE events (kind text, n int)",
                "INSERT INTO events VALUES ('a', 1)");
        try (CaptureWorker worker = start(url)) {
            assertThat(scalar(url, "SELECT relreplident FROM pg_class WHERE oid = 'events'::regclass")).isEqualTo("f");
            // Would fail with "cannot update table because it does not have a replica identity" otherwise.
            sql(url, "INSERT INTO events VALUES ('b', 2)",
                    "UPDATE events SET n = 20 WHERE kind = 'b'",
                    "DELETE FROM events WHERE kind = 'a'");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = changesOf(url, "events");
            assertThat(changes).extracting(Change::operation).containsExactly("SNAPSHOT", "CREATE", "UPDATE", "DELETE");
            assertThat(changes).extracting(Change::primaryKey).containsOnlyNulls();
            assertThat(changes.get(0).after()).isEqualTo(object("kind", "a", "n", 1));
            Change update = changes.get(2);
            assertThat(update.before()).isEqualTo(object("kind", "b", "n", 2));
            assertThat(update.after()).isEqualTo(object("kind", "b", "n", 20));
            assertThat(update.changedColumns()).containsExactly("n");
            Change delete = changes.get(3);
            assertThat(delete.before()).isEqualTo(object("kind", "a", "n", 1));
            assertThat(delete.after()).isNull();
        }
    }

    @Test
    void multiTableTransactionKeepsStatementOrder() {
        String url = newDatabase("cap_multi");
        sql(url, "CREATE TABLE a (id int PRIMARY KEY)", "CREATE TABLE b (id int PRIMARY KEY)");
        try (CaptureWorker worker = start(url)) {
            long xid = TestPostgres.transaction(url, "INSERT INTO a VALUES (1)", "INSERT INTO b VALUES (1)",
                    "UPDATE a SET id = 2", "DELETE FROM b").xid();
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = changes(url);
            assertThat(changes).extracting(c -> c.table() + ":" + c.operation())
                    .containsExactly("a:CREATE", "b:CREATE", "a:UPDATE", "b:DELETE");
            assertThat(changes).extracting(Change::transactionId).containsOnly(xid);
            assertThat(changes).extracting(Change::ordinal).containsExactly(0L, 1L, 2L, 3L);
            JsonNode last = changes.get(3).before();
            assertThat(last).isEqualTo(object("id", 1));
        }
    }
}
