package io.annals.capture.crash;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Crash and restart while a large transaction is streamed before it commits (pgoutput protocol 2+; the test
 * server's {@code logical_decoding_work_mem} is 1 MB, so a 20,000-row transaction is streamed in blocks).
 * Its changes wait in {@code annals.streamed_changes} until its commit arrives, then move into the change
 * log with the checkpoint in one transaction.
 *
 * <p>Crash modes: {@code STAGED:N} halts the worker once N changes are staged (staging has no crash point
 * of its own); at the first {@code AFTER_COPY}, {@code BEFORE_COMMIT} and {@code AFTER_COMMIT} the worker is
 * moving the committed streamed transaction into the change log (nothing else was written before it).
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class CrashDuringStreamedTransactionTest {

    static final int BATCH_SIZE = 100;
    static final Duration CHILD_TIMEOUT = Duration.ofSeconds(90);

    @ParameterizedTest(name = "streamed transaction, crash at {0}, then restart")
    @ValueSource(strings = {"STAGED:2000", "AFTER_COPY:1", "BEFORE_COMMIT:1", "AFTER_COMMIT:1"})
    void restartAfterCrashDuringStreamedTransaction(String crash) throws Exception {
        String slot = ("streamed_" + crash.replace(':', '_')).toLowerCase();
        try (CrashTestDatabase db = CrashTestDatabase.create(slot, slot)) {
            List<Workload.Change> expected;
            try (Workload workload = new Workload(db.url, List.of("items", "notes"), crash.hashCode())) {
                db.prepareSlot(BATCH_SIZE);
                workload.transaction(20_000, 300);
                workload.transaction(50);
                workload.transaction(1);
                expected = workload.committed();
            }
            assertThat(expected).hasSize(20_351);

            CaptureProcess.Exit crashed = CaptureProcess.run(slot + "-crash", CaptureProcess.QUICK_JVM, db.url, slot,
                    BATCH_SIZE, crash, CHILD_TIMEOUT);
            assertThat(crashed.code()).as("the child must halt at %s; %s", crash, crashed.describe())
                    .isEqualTo(CrashingCapture.HALTED);
            long stored = db.queryLong("SELECT count(*) FROM annals.changes");
            long staged = db.queryLong("SELECT count(*) FROM annals.streamed_changes");
            db.assertCheckpointAtLastChange("after the crash at " + crash);
            db.awaitSlotReleased(Duration.ofSeconds(60));

            CaptureProcess.Exit restart = CaptureProcess.run(slot + "-restart", CaptureProcess.QUICK_JVM, db.url, slot,
                    BATCH_SIZE, "catch-up", CHILD_TIMEOUT);
            assertThat(restart.code()).as("the restarted child must catch up; %s", restart.describe())
                    .isEqualTo(CrashingCapture.CAUGHT_UP);
            long streamedTransactions = db.queryLong("SELECT coalesce(sum(stream_txns), 0) FROM pg_stat_replication_slots"
                    + " WHERE slot_name = '" + slot + "'");
            CaptureProcess.note(String.format("streamed, %s: crashed after %d ms with %d stored and %d staged of %d;"
                            + " restart caught up in %d ms; server streamed %d transactions", crash,
                    crashed.elapsed().toMillis(), stored, staged, expected.size(), restart.elapsed().toMillis(),
                    streamedTransactions));

            db.assertExactlyOnce(expected);
            assertThat(db.queryLong("SELECT count(*) FROM annals.streamed_changes")).as("staged changes left over").isZero();
            assertThat(streamedTransactions).as("the large transaction was streamed before it committed").isPositive();
        }
    }
    /**
     * The same with transactions interleaved as concurrent sessions make them: while large transaction A is
     * open (and streamed), small transactions commit, a subtransaction of A rolls back, and another large
     * transaction C is streamed and then rolled back. Only A's surviving changes and the small transactions
     * may reach the change log, each once, in commit order.
     */
    @ParameterizedTest(name = "interleaved streamed transactions, crash at {0}, then restart")
    @ValueSource(strings = {"STAGED:4000", "STAGED:18000", "AFTER_COMMIT:1", "AFTER_CONFIRM:2"})
    void restartAfterCrashWithInterleavedStreamedTransactions(String crash) throws Exception {
        String slot = ("interleaved_" + crash.replace(':', '_')).toLowerCase();
        try (CrashTestDatabase db = CrashTestDatabase.create(slot, slot)) {
            List<Workload.Change> expected = new java.util.ArrayList<>();
            try (Workload a = new Workload(db.url, List.of("big"), crash.hashCode());
                 Workload small = new Workload(db.url, List.of("items", "notes"), crash.hashCode() + 1L);
                 Workload c = new Workload(db.url, List.of("scratch"), crash.hashCode() + 2L)) {
                db.prepareSlot(BATCH_SIZE);
                a.write(10_000, 100);
                a.rolledBackSubtransaction(5_000);
                c.write(15_000, 0);
                expected.addAll(small.transaction(50));
                a.write(10_000, 200);
                expected.addAll(small.transaction(120));
                c.rollback();
                expected.addAll(a.commit());
                expected.addAll(small.transaction(1));
            }
            assertThat(expected).hasSize(20_471);

            CaptureProcess.Exit crashed = CaptureProcess.run(slot + "-crash", CaptureProcess.QUICK_JVM, db.url, slot,
                    BATCH_SIZE, crash, CHILD_TIMEOUT);
            assertThat(crashed.code()).as("the child must halt at %s; %s", crash, crashed.describe())
                    .isEqualTo(CrashingCapture.HALTED);
            long stored = db.queryLong("SELECT count(*) FROM annals.changes");
            long staged = db.queryLong("SELECT count(*) FROM annals.streamed_changes");
            db.assertCheckpointAtLastChange("after the crash at " + crash);
            db.awaitSlotReleased(Duration.ofSeconds(60));

            CaptureProcess.Exit restart = CaptureProcess.run(slot + "-restart", CaptureProcess.QUICK_JVM, db.url, slot,
                    BATCH_SIZE, "catch-up", CHILD_TIMEOUT);
            assertThat(restart.code()).as("the restarted child must catch up; %s", restart.describe())
                    .isEqualTo(CrashingCapture.CAUGHT_UP);
            long streamedTransactions = db.queryLong("SELECT coalesce(sum(stream_txns), 0) FROM pg_stat_replication_slots"
                    + " WHERE slot_name = '" + slot + "'");
            CaptureProcess.note(String.format("interleaved, %s: crashed after %d ms with %d stored and %d staged of %d;"
                            + " restart caught up in %d ms; server streamed %d transactions", crash,
                    crashed.elapsed().toMillis(), stored, staged, expected.size(), restart.elapsed().toMillis(),
                    streamedTransactions));

            db.assertExactlyOnce(expected);
            assertThat(db.queryLong("SELECT count(*) FROM annals.streamed_changes")).as("staged changes left over").isZero();
            assertThat(streamedTransactions).as("the large transactions were streamed before they ended").isPositive();
        }
    }
    /**
     * Whether PostgreSQL streams a transaction depends on {@code logical_decoding_work_mem}, which may differ
     * between runs. Here the first run receives the large transaction whole (and stores part of it, in
     * batches that end inside it) or streamed, and the restart receives it the other way.
     */
    @ParameterizedTest(name = "first run receives it {0}, crash at {1}, restart receives it {2}")
    @CsvSource({"whole, AFTER_COMMIT:3, streamed", "streamed, STAGED:5000, whole", "streamed, AFTER_COMMIT:2, whole"})
    void transactionReceivedWholeThenStreamedOrTheReverse(String first, String crash, String then) throws Exception {
        String slot = ("switch_" + first + "_" + crash.replace(':', '_')).toLowerCase();
        try (CrashTestDatabase db = CrashTestDatabase.create(slot, slot)) {
            List<Workload.Change> expected;
            try (Workload workload = new Workload(db.url, List.of("items", "notes"), crash.hashCode())) {
                db.prepareSlot(BATCH_SIZE);
                workload.transaction(1);
                workload.transaction(50);
                workload.transaction(20_000, 300);
                workload.transaction(120);
                expected = workload.committed();
            }
            assertThat(expected).hasSize(20_471);

            decodingMemory(db, first);
            CaptureProcess.Exit crashed = CaptureProcess.run(slot + "-crash", CaptureProcess.QUICK_JVM, db.url, slot,
                    BATCH_SIZE, crash, CHILD_TIMEOUT);
            assertThat(crashed.code()).as("the child must halt at %s; %s", crash, crashed.describe())
                    .isEqualTo(CrashingCapture.HALTED);
            long stored = db.queryLong("SELECT count(*) FROM annals.changes");
            long staged = db.queryLong("SELECT count(*) FROM annals.streamed_changes");
            db.assertCheckpointAtLastChange("after the crash at " + crash);
            db.awaitSlotReleased(Duration.ofSeconds(60));
            long streamedBefore = streamedTransactions(db, slot);

            decodingMemory(db, then);
            CaptureProcess.Exit restart = CaptureProcess.run(slot + "-restart", CaptureProcess.QUICK_JVM, db.url, slot,
                    BATCH_SIZE, "catch-up", CHILD_TIMEOUT);
            assertThat(restart.code()).as("the restarted child must catch up; %s", restart.describe())
                    .isEqualTo(CrashingCapture.CAUGHT_UP);
            db.awaitSlotReleased(Duration.ofSeconds(60));
            long streamedAfter = streamedTransactions(db, slot);
            CaptureProcess.note(String.format("%s then %s, %s: crashed after %d ms with %d stored and %d staged of %d;"
                            + " restart caught up in %d ms; streamed transactions %d before the restart, %d after", first, then,
                    crash, crashed.elapsed().toMillis(), stored, staged, expected.size(), restart.elapsed().toMillis(),
                    streamedBefore, streamedAfter));

            db.assertExactlyOnce(expected);
            assertThat(db.queryLong("SELECT count(*) FROM annals.streamed_changes")).as("staged changes left over").isZero();
            if (first.equals("whole")) {
                assertThat(streamedBefore).as("the first run received the transaction whole").isZero();
                assertThat(streamedAfter).as("the restart received it streamed").isPositive();
            } else {
                assertThat(streamedBefore).as("the first run received the transaction streamed").isPositive();
                assertThat(streamedAfter).as("the restart received it whole").isEqualTo(streamedBefore);
            }
        }
    }

    /** Sets the database's {@code logical_decoding_work_mem}, which the next walsender session uses. */
    private static void decodingMemory(CrashTestDatabase db, String mode) {
        String size = switch (mode) {
            case "whole" -> "256MB";
            case "streamed" -> "64kB";
            default -> throw new IllegalArgumentException(mode);
        };
        io.annals.testkit.TestPostgres.execute(db.url, "ALTER DATABASE \"" + db.name + "\" SET logical_decoding_work_mem = '" + size + "'");
    }

    private static long streamedTransactions(CrashTestDatabase db, String slot) throws java.sql.SQLException {
        return db.queryLong("SELECT coalesce(sum(stream_txns), 0) FROM pg_stat_replication_slots WHERE slot_name = '" + slot + "'");
    }
}
