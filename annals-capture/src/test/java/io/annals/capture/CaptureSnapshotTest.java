package io.annals.capture;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** The initial snapshot: a baseline of existing rows that meets the stream exactly. */
class CaptureSnapshotTest extends CaptureTestSupport {

    @Test
    void existingRowsAreSnapshotBeforeAnyStreamedChange() {
        String url = newDatabase("cap_snap");
        sql(url, "CREATE TABLE a (id int PRIMARY KEY, v text)", "CREATE TABLE b (k text, n int, PRIMARY KEY (k, n))",
                "CREATE TABLE empty_one (id int PRIMARY KEY)",
                "INSERT INTO a SELECT g, 'v' || g FROM generate_series(1, 25) g",
                "INSERT INTO b VALUES ('x', 1), ('y', 2)");
        try (CaptureWorker worker = start(url)) {
            sql(url, "UPDATE a SET v = 'changed' WHERE id = 1", "INSERT INTO b VALUES ('z', 3)");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> all = changes(url);
            List<Change> snapshot = all.stream().filter(c -> c.operation().equals("SNAPSHOT")).toList();
            List<Change> streamed = all.stream().filter(c -> !c.operation().equals("SNAPSHOT")).toList();
            assertThat(snapshot).hasSize(27);
            assertThat(streamed).extracting(Change::operation).containsExactly("UPDATE", "CREATE");
            String lastSnapshot = snapshot.stream().map(Change::position).max(String::compareTo).orElseThrow();
            assertThat(streamed).allSatisfy(c -> assertThat(c.position()).isGreaterThan(lastSnapshot));
            assertThat(snapshot).extracting(Change::before).containsOnlyNulls();
            assertThat(snapshot).extracting(Change::changedColumns).containsOnlyNulls();
            assertThat(snapshot).extracting(Change::database).containsOnly(databaseName(url));
            assertThat(snapshot.stream().filter(c -> c.table().equals("b")).map(Change::primaryKey).toList())
                    .containsExactlyInAnyOrder(object("k", "x", "n", 1), object("k", "y", "n", 2));
            assertPositionsStrictlyIncreasing(all);
            // The snapshot images are to_jsonb of the rows as they were.
            assertThat(scalar(url, "SELECT count(*) FROM annals.changes c JOIN a ON c.primary_key = jsonb_build_object('id', a.id)"
                    + " WHERE c.operation = 'SNAPSHOT' AND a.id > 1 AND c.after = to_jsonb(a)")).isEqualTo("24");
            assertThat(snapshot.stream().filter(c -> c.primaryKey().equals(object("id", 1))).findFirst().orElseThrow().after())
                    .isEqualTo(object("id", 1, "v", "v1"));
            assertThat(scalar(url, "SELECT snapshot_state FROM annals.checkpoints")).isEqualTo("done");
            assertHistoryReplaysToLiveTable(url, "a", List.of("id"));
            assertHistoryReplaysToLiveTable(url, "b", List.of("k", "n"));
        }
    }

    @Test
    void snapshotNeverRecordsNoExistingRows() {
        String url = newDatabase("cap_snap_never");
        sql(url, "CREATE TABLE a (id int PRIMARY KEY, v text)", "INSERT INTO a VALUES (1, 'old'), (2, 'old')");
        try (CaptureWorker worker = start(options(url).snapshot(SnapshotMode.NEVER))) {
            sql(url, "UPDATE a SET v = 'new' WHERE id = 1", "INSERT INTO a VALUES (3, 'x')");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = changes(url);
            assertThat(changes).extracting(Change::operation).containsExactly("UPDATE", "CREATE");
            assertThat(changes.get(0).after()).isEqualTo(object("id", 1, "v", "new"));
            assertThat(scalar(url, "SELECT snapshot_state FROM annals.checkpoints")).isEqualTo("skipped");
        }
        // A restart does not take the snapshot after all.
        try (CaptureWorker worker = start(options(url))) {
            worker.awaitCaughtUp(CATCH_UP);
            assertThat(changes(url, "operation = 'SNAPSHOT'")).isEmpty();
        }
    }

    @Test
    void snapshotIsTakenOnlyOnTheFirstStart() {
        String url = newDatabase("cap_snap_once");
        sql(url, "CREATE TABLE a (id int PRIMARY KEY)", "INSERT INTO a SELECT generate_series(1, 10)");
        try (CaptureWorker worker = start(url)) {
            worker.awaitCaughtUp(CATCH_UP);
        }
        sql(url, "INSERT INTO a VALUES (11)");
        try (CaptureWorker worker = start(url)) {
            worker.awaitCaughtUp(CATCH_UP);
        }
        assertThat(changes(url, "operation = 'SNAPSHOT'")).hasSize(10);
        assertThat(changes(url, "operation = 'CREATE'")).hasSize(1);
        assertHistoryReplaysToLiveTable(url, "a", List.of("id"));
    }

    /**
     * The boundary between snapshot and stream under load: rows keep changing while the slot is
     * created and the snapshot read. Replaying each row's history must give exactly the live row,
     * with no change in both the snapshot and the stream and none in neither.
     */
    @Test
    void snapshotBoundaryUnderConcurrentWrites() throws Exception {
        String url = newDatabase("cap_snap_concurrent");
        sql(url, "CREATE TABLE hot (id int PRIMARY KEY, n int NOT NULL, note text)",
                "CREATE TABLE cold (id int PRIMARY KEY, n int NOT NULL)",
                "INSERT INTO hot SELECT g, 0, 'seed' FROM generate_series(1, 200) g",
                "INSERT INTO cold SELECT g, 0 FROM generate_series(1, 2000) g");
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger statements = new AtomicInteger();
        AtomicReference<Throwable> writerFailure = new AtomicReference<>();
        List<Thread> writers = new java.util.ArrayList<>();
        for (int w = 0; w < 3; w++) {
            int writer = w;
            writers.add(Thread.ofPlatform().name("writer-" + w).start(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                int nextId = 1000 + writer * 100_000;
                try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement()) {
                    while (!stop.get()) {
                        int id = random.nextInt(1, 201);
                        try {
                        switch (random.nextInt(6)) {
                            case 0 -> s.executeUpdate("INSERT INTO hot VALUES (" + (nextId++) + ", 0, 'new')");
                            case 1 -> s.executeUpdate("DELETE FROM hot WHERE id = (SELECT id FROM hot WHERE id > 1000"
                                    + " ORDER BY random() LIMIT 1)");
                            case 2 -> {
                                c.setAutoCommit(false);
                                s.executeUpdate("UPDATE hot SET n = n + 1 WHERE id = " + id);
                                s.executeUpdate("UPDATE cold SET n = n + 1 WHERE id = " + random.nextInt(1, 2001));
                                c.commit();
                                c.setAutoCommit(true);
                            }
                            case 3 -> s.executeUpdate("UPDATE hot SET n = n + 1, note = 'w" + writer + "' WHERE id BETWEEN "
                                    + id + " AND " + (id + 3));
                            default -> s.executeUpdate("UPDATE hot SET n = n + 1 WHERE id = " + id);
                        }
                        } catch (SQLException e) {
                            if (!"40P01".equals(e.getSQLState())) throw e;
                            if (!c.getAutoCommit()) c.rollback(); // a deadlock between writers: nothing committed
                            c.setAutoCommit(true);
                            continue;
                        }
                        statements.incrementAndGet();
                    }
                } catch (Throwable t) {
                    writerFailure.set(t);
                }
            }));
        }
        try {
            Thread.sleep(300);
            int beforeStart = statements.get();
            try (CaptureWorker worker = start(url)) {
                int atStart = statements.get();
                Thread.sleep(700);
                stop.set(true);
                for (Thread t : writers) t.join();
                assertThat(writerFailure.get()).isNull();
                worker.awaitCaughtUp(CATCH_UP);
                assertThat(atStart).as("writes happened while the worker started").isGreaterThan(beforeStart);
                assertThat(statements.get()).as("writes happened after the worker started").isGreaterThan(atStart);
            }
        } finally {
            stop.set(true);
            for (Thread t : writers) t.join();
        }
        assertThat(changes(url, "operation = 'SNAPSHOT' AND \"table\" = 'cold'")).hasSize(2000);
        assertThat(changes(url, "operation <> 'SNAPSHOT'")).isNotEmpty();
        assertHistoryReplaysToLiveTable(url, "hot", List.of("id"));
        assertHistoryReplaysToLiveTable(url, "cold", List.of("id"));
        assertWholeLogOrdered(url);
        // Every UPDATE adds exactly 1 to n: an UPDATE both in the snapshot and the stream would add 0,
        // a missing one 2. (Replaying absolute after images alone would not notice either.)
        assertThat(query(url, "SELECT \"table\", primary_key::text, position, n, prev FROM (SELECT \"table\", primary_key,"
                + " position, operation, (after ->> 'n')::int AS n, lag((after ->> 'n')::int) OVER (PARTITION BY \"table\","
                + " primary_key ORDER BY position) AS prev FROM annals.changes) x"
                + " WHERE operation = 'UPDATE' AND n IS DISTINCT FROM prev + 1"))
                .as("updates whose n is not the previous image's n + 1").isEmpty();
    }
}
