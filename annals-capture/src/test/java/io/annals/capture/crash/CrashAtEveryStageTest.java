package io.annals.capture.crash;

import io.annals.changelog.CrashPoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Crash and restart at every stage of a batch, with no loss and no duplicates.
 *
 * <p>The worker runs in a child JVM that halts itself ({@code Runtime.halt}, no shutdown hooks: what
 * {@code kill -9} leaves behind) the N-th time it reaches a {@link CrashPoint.Stage}. A second child then
 * restarts capture until it has caught up, and the change log must hold every change of the workload
 * exactly once, in commit order, with the checkpoint at the last one.
 *
 * <p>The workload is written before the crashing child starts, in transactions of 1, 50, 350, 120 and 1
 * row changes; with 100 changes per batch, batches end inside the 350- and 120-change transactions, so
 * crashes also hit a transaction that is only partly stored.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class CrashAtEveryStageTest {

    static final int BATCH_SIZE = 100;
    static final int[] TRANSACTION_SIZES = {1, 50, 350, 120, 1};
    static final Duration CHILD_TIMEOUT = Duration.ofSeconds(60);

    static Stream<Arguments> crashes() {
        List<Arguments> out = new ArrayList<>();
        for (CrashPoint.Stage stage : CrashPoint.Stage.values()) {
            // The slot is confirmed whenever the reader finds nothing pending, so how often that
            // happens depends on timing; only the first confirmation is certain to come.
            int[] occurrences = stage == CrashPoint.Stage.AFTER_CONFIRM ? new int[]{1} : new int[]{1, 3};
            for (int occurrence : occurrences) {
                out.add(Arguments.of(stage, occurrence));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "crash at {0} #{1}, then restart")
    @MethodSource("crashes")
    void restartAfterCrashLosesNothingAndStoresNothingTwice(CrashPoint.Stage stage, int occurrence) throws Exception {
        String slot = ("crash_" + stage + "_" + occurrence).toLowerCase();
        try (CrashTestDatabase db = CrashTestDatabase.create(slot, slot)) {
            List<Workload.Change> expected;
            try (Workload workload = new Workload(db.url, List.of("items", "notes"), 1000L * stage.ordinal() + occurrence)) {
                db.prepareSlot(BATCH_SIZE);
                for (int size : TRANSACTION_SIZES) workload.transaction(size);
                expected = workload.committed();
            }
            assertThat(expected).hasSize(522);

            CaptureProcess.Exit crash = CaptureProcess.run(slot + "-crash", CaptureProcess.QUICK_JVM, db.url, slot,
                    BATCH_SIZE, stage + ":" + occurrence, CHILD_TIMEOUT);
            assertThat(crash.code()).as("the child must halt at %s #%d; %s", stage, occurrence, crash.describe())
                    .isEqualTo(CrashingCapture.HALTED);
            long storedAtCrash = db.queryLong("SELECT count(*) FROM annals.changes");
            db.assertCheckpointAtLastChange("after the crash at " + stage + " #" + occurrence);
            Duration released = db.awaitSlotReleased(Duration.ofSeconds(60));

            CaptureProcess.Exit restart = CaptureProcess.run(slot + "-restart", CaptureProcess.QUICK_JVM, db.url, slot,
                    BATCH_SIZE, "catch-up", CHILD_TIMEOUT);
            assertThat(restart.code()).as("the restarted child must catch up; %s", restart.describe())
                    .isEqualTo(CrashingCapture.CAUGHT_UP);
            CaptureProcess.note(String.format("%s #%d: crashed after %d ms with %d of %d changes stored; slot released %d ms later;"
                            + " restart caught up in %d ms", stage, occurrence, crash.elapsed().toMillis(), storedAtCrash,
                    expected.size(), released.toMillis(), restart.elapsed().toMillis()));

            db.assertExactlyOnce(expected);
        }
    }

    /**
     * Crashes five times in a row, once at each stage, each restart resuming from what the previous crash
     * left, and only then lets a restart catch up.
     */
    @Test
    void crashAtEachStageInTurnThenRestart() throws Exception {
        String slot = "crash_in_turn";
        try (CrashTestDatabase db = CrashTestDatabase.create(slot, slot)) {
            List<Workload.Change> expected;
            try (Workload workload = new Workload(db.url, List.of("items", "notes"), 7)) {
                db.prepareSlot(BATCH_SIZE);
                for (int size : TRANSACTION_SIZES) workload.transaction(size);
                workload.transaction(700);
                expected = workload.committed();
            }
            List<String> progress = new ArrayList<>();
            int run = 0;
            for (CrashPoint.Stage stage : CrashPoint.Stage.values()) {
                // The slot is confirmed when the reader has nothing pending, so a short run may confirm only once.
                int occurrence = stage == CrashPoint.Stage.AFTER_CONFIRM ? 1 : 2;
                CaptureProcess.Exit crash = CaptureProcess.run(slot + "-" + (++run) + "-" + stage, CaptureProcess.QUICK_JVM,
                        db.url, slot, BATCH_SIZE, stage + ":" + occurrence, CHILD_TIMEOUT);
                assertThat(crash.code()).as("run %d must halt at %s #%d; %s", run, stage, occurrence, crash.describe())
                        .isEqualTo(CrashingCapture.HALTED);
                progress.add(stage + ": " + db.queryLong("SELECT count(*) FROM annals.changes"));
                db.assertCheckpointAtLastChange("after run " + run + " crashed at " + stage + " #" + occurrence);
                db.awaitSlotReleased(Duration.ofSeconds(60));
            }
            CaptureProcess.Exit restart = CaptureProcess.run(slot + "-final", CaptureProcess.QUICK_JVM, db.url, slot,
                    BATCH_SIZE, "catch-up", CHILD_TIMEOUT);
            assertThat(restart.code()).as("the final restart must catch up; %s", restart.describe())
                    .isEqualTo(CrashingCapture.CAUGHT_UP);
            CaptureProcess.note("Changes stored after each crash (of " + expected.size() + "): " + progress);
            db.assertExactlyOnce(expected);
        }
    }
}
