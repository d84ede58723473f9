package io.annals.capture;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** Stopping and starting the worker: every change is stored exactly once, none lost, none twice. */
class CaptureRestartTest extends CaptureTestSupport {

    @Test
    void changesMadeWhileStoppedAreCapturedOnceAfterRestart() {
        String url = newDatabase("cap_restart");
        sql(url, "CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL)", "INSERT INTO t SELECT g, 0 FROM generate_series(1, 5) g");
        try (CaptureWorker worker = start(url)) {
            sql(url, "INSERT INTO t VALUES (6, 0)", "UPDATE t SET n = 1 WHERE id = 1");
            worker.awaitCaughtUp(CATCH_UP);
        }
        assertThat(changes(url)).hasSize(7);
        // While stopped.
        sql(url, "UPDATE t SET n = 2 WHERE id = 1", "DELETE FROM t WHERE id = 2", "INSERT INTO t VALUES (7, 7)",
                "UPDATE t SET id = 8 WHERE id = 3");
        try (CaptureWorker worker = start(url)) {
            sql(url, "UPDATE t SET n = n + 10");
            worker.awaitCaughtUp(CATCH_UP);
        }
        // Stopped and started again with nothing new in between: nothing is stored twice.
        try (CaptureWorker worker = start(url)) {
            sql(url, "DELETE FROM t WHERE id = 4");
            worker.awaitCaughtUp(CATCH_UP);
        }
        List<Change> changes = changesOf(url, "t");
        assertThat(changes).extracting(Change::operation).containsExactly(
                "SNAPSHOT", "SNAPSHOT", "SNAPSHOT", "SNAPSHOT", "SNAPSHOT",
                "CREATE", "UPDATE",
                "UPDATE", "DELETE", "CREATE", "UPDATE",
                "UPDATE", "UPDATE", "UPDATE", "UPDATE", "UPDATE", "UPDATE",
                "DELETE");
        assertThat(changes.get(7).after()).isEqualTo(object("id", 1, "n", 2));
        assertThat(changes.get(10).before()).isEqualTo(object("id", 3));
        assertThat(changes.get(10).primaryKey()).isEqualTo(object("id", 8));
        assertWholeLogOrdered(url);
        assertHistoryReplaysToLiveTable(url, "t", List.of("id"));
    }

    /**
     * Writers never pause while the worker is stopped and started three times. Each statement
     * changes exactly one row, so the change log must hold exactly one change per statement.
     */
    @Test
    void repeatedRestartsUnderContinuousWritesLoseAndDuplicateNothing() throws Exception {
        String url = newDatabase("cap_restart_load");
        sql(url, "CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL, tag text)",
                "INSERT INTO t SELECT g, 0, 'seed' FROM generate_series(1, 100) g");
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger rowChanges = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> writers = new ArrayList<>();
        List<Runnable> writerTasks = new ArrayList<>();
        for (int w = 0; w < 2; w++) {
            int writer = w;
            writerTasks.add(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                int nextId = 1_000 + writer * 1_000_000;
                List<Integer> mine = new ArrayList<>();
                try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement()) {
                    while (!stop.get()) {
                        int changed;
                        switch (random.nextInt(4)) {
                            case 0 -> {
                                changed = s.executeUpdate("INSERT INTO t VALUES (" + nextId + ", 0, 'w" + writer + "')");
                                mine.add(nextId++);
                            }
                            case 1 -> {
                                if (mine.isEmpty()) continue;
                                int id = mine.remove(random.nextInt(mine.size()));
                                changed = s.executeUpdate("DELETE FROM t WHERE id = " + id);
                            }
                            default -> {
                                // Seed rows are shared between writers; each UPDATE changes exactly one row.
                                changed = s.executeUpdate("UPDATE t SET n = n + 1 WHERE id = " + random.nextInt(1, 101));
                            }
                        }
                        rowChanges.addAndGet(changed);
                        if (random.nextInt(20) == 0) {
                            // A multi-statement transaction now and then.
                            c.setAutoCommit(false);
                            int a = s.executeUpdate("UPDATE t SET tag = 'tx' WHERE id = " + random.nextInt(1, 101));
                            int b = s.executeUpdate("INSERT INTO t VALUES (" + nextId + ", 1, 'tx')");
                            mine.add(nextId++);
                            c.commit();
                            c.setAutoCommit(true);
                            rowChanges.addAndGet(a + b);
                        }
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
        }
        try {
            for (int round = 0; round < 3; round++) {
                try (CaptureWorker worker = start(url)) {
                    if (round == 0) {
                        // Writers start once the slot exists, so the snapshot holds exactly the seed rows.
                        for (int w = 0; w < writerTasks.size(); w++) {
                            writers.add(Thread.ofPlatform().name("restart-writer-" + w).start(writerTasks.get(w)));
                        }
                    }
                    Thread.sleep(400);
                    assertThat(worker.isRunning()).isTrue();
                }
                Thread.sleep(200); // writes while no worker runs
            }
        } finally {
            stop.set(true);
            for (Thread t : writers) t.join();
        }
        assertThat(failure.get()).isNull();
        try (CaptureWorker worker = start(url)) {
            worker.awaitCaughtUp(CATCH_UP);
        }
        assertThat(rowChanges.get()).as("row changes made").isGreaterThan(50);
        assertThat(changes(url, "operation = 'SNAPSHOT'")).hasSize(100);
        assertThat(changes(url, "operation <> 'SNAPSHOT'")).as("one change per row changed").hasSize(rowChanges.get());
        assertWholeLogOrdered(url);
        assertHistoryReplaysToLiveTable(url, "t", List.of("id"));
        assertThat(scalar(url, "SELECT confirmed_lsn IS NOT NULL FROM annals.checkpoints")).isEqualTo("t");
    }
}
