package io.annals.capture.crash;

import io.annals.changelog.ChangeLog;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Crash (SIGKILL or halt) during the first start, while the worker creates its slot and takes the initial
 * snapshot of the rows that already exist. A restart must still record every existing row exactly once as
 * a SNAPSHOT change, and then stream what follows.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class CrashDuringInitialSnapshotTest {

    static final int BATCH_SIZE = 100;
    static final List<String> TABLES = List.of("items", "notes");
    static final Duration CHILD_TIMEOUT = Duration.ofSeconds(60);

    /** Halted once 1,500 of about 6,000 rows of the snapshot are stored. */
    @Test
    void crashHalfwayThroughTheInitialSnapshot() throws Exception {
        String slot = "snapshot_halfway";
        try (CrashTestDatabase db = CrashTestDatabase.create(slot, slot);
             Workload workload = new Workload(db.url, TABLES, 11)) {
            workload.transaction(3_000, 500);
            workload.transaction(3_000, 500);
            List<Workload.Change> expected = new ArrayList<>(db.snapshotOf(TABLES.toArray(String[]::new)));

            CaptureProcess.Exit crashed = CaptureProcess.run(slot + "-crash", CaptureProcess.QUICK_JVM, db.url, slot,
                    BATCH_SIZE, "STORED:1500", CHILD_TIMEOUT);
            assertThat(crashed.code()).as("the child must halt during the snapshot; %s", crashed.describe())
                    .isEqualTo(CrashingCapture.HALTED);
            String state = db.queryString("SELECT snapshot_state FROM annals.checkpoints WHERE consumer = '" + slot + "'");
            long stored = db.queryLong("SELECT count(*) FROM annals.changes");
            db.assertCheckpointAtLastChange("after the crash during the snapshot");
            db.awaitSlotReleased(Duration.ofSeconds(60));

            CaptureProcess.Exit restart = CaptureProcess.run(slot + "-restart", CaptureProcess.QUICK_JVM, db.url, slot,
                    BATCH_SIZE, "catch-up", CHILD_TIMEOUT);
            assertThat(restart.code()).as("the restarted child must catch up; %s", restart.describe())
                    .isEqualTo(CrashingCapture.CAUGHT_UP);
            CaptureProcess.note(String.format("snapshot halfway: crashed after %d ms with %d of %d snapshot rows stored"
                    + " (snapshot_state %s); restart caught up in %d ms", crashed.elapsed().toMillis(), stored,
                    expected.size(), state, restart.elapsed().toMillis()));
            db.assertExactlyOnce(expected);

            // The slot the restart created streams what follows.
            workload.transaction(50);
            workload.transaction(350);
            expected.addAll(workload.committed().subList(workload.committed().size() - 400, workload.committed().size()));
            db.catchUpInProcess(BATCH_SIZE);
            db.assertExactlyOnce(expected);
        }
    }

    /**
     * A SIGKILL right after the worker created the slot leaves the slot and the checkpoint row the worker
     * wrote just before creating it (snapshot state "running", no snapshot LSN yet). This builds exactly
     * that state (a kill cannot be placed between two statements reliably) and checks that the restart
     * neither mistakes the slot for someone else's nor skips the snapshot.
     */
    @Test
    void killRightAfterCreatingTheSlotStillGetsTheSnapshot() throws Exception {
        String slot = "snapshot_slot_created";
        try (CrashTestDatabase db = CrashTestDatabase.create(slot, slot);
             Workload workload = new Workload(db.url, TABLES, 12)) {
            workload.transaction(1_000, 200);
            List<Workload.Change> expected = new ArrayList<>(db.snapshotOf(TABLES.toArray(String[]::new)));
            ChangeLog.at(db.url).migrate();
            try (Connection c = TestPostgres.connect(db.url); Statement s = c.createStatement()) {
                s.execute("INSERT INTO annals.checkpoints (consumer, snapshot_state, snapshot_lsn) VALUES ('" + slot + "', 'running', '0/0')");
                s.execute("CREATE PUBLICATION annals FOR ALL TABLES");
                s.execute("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
            }
            CaptureProcess.Exit restart = CaptureProcess.run(slot + "-restart", CaptureProcess.QUICK_JVM, db.url, slot,
                    BATCH_SIZE, "catch-up", CHILD_TIMEOUT);
            assertThat(restart.code()).as("the restarted child must catch up; %s", restart.describe())
                    .isEqualTo(CrashingCapture.CAUGHT_UP);
            CaptureProcess.note(String.format("slot created, snapshot not started: restart caught up in %d ms with %d of %d"
                    + " snapshot rows", restart.elapsed().toMillis(), db.queryLong("SELECT count(*) FROM annals.changes"),
                    expected.size()));
            db.assertExactlyOnce(expected);
        }
    }
}
