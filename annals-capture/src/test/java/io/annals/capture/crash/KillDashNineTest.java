package io.annals.capture.crash;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * A real {@code kill -9}: the worker runs in a child JVM while the source keeps writing, and is sent
 * SIGKILL at a random moment, several times in a row, restarting each time. Afterwards a last run catches
 * up, and the change log must hold every committed change exactly once. Some transactions are large
 * enough to be streamed before they commit, so kills also land while their changes are being staged.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class KillDashNineTest {

    static final int BATCH_SIZE = 100;
    static final int KILLS = 5;

    @Test
    void sigkillAtRandomMomentsWhileTheSourceKeepsWriting() throws Exception {
        long seed = Long.getLong("annals.crash.seed", System.nanoTime());
        CaptureProcess.note("KillDashNineTest seed: " + seed + " (rerun with -Dannals.crash.seed=" + seed + ")");
        Random random = new Random(seed);
        String slot = "kill_dash_nine";
        try (CrashTestDatabase db = CrashTestDatabase.create(slot, slot);
             Workload workload = new Workload(db.url, List.of("accounts", "ledger"), seed)) {
            db.prepareSlot(BATCH_SIZE);

            AtomicBoolean writing = new AtomicBoolean(true);
            AtomicReference<Throwable> writerFailure = new AtomicReference<>();
            Random writerRandom = new Random(seed + 1);
            Thread writer = Thread.ofPlatform().name("kill9-workload").start(() -> {
                try {
                    while (writing.get()) {
                        // Mostly small transactions, now and then one that spans several batches, and rarely one
                        // large enough for the server to stream it before it commits.
                        int kind = writerRandom.nextInt(80);
                        if (kind == 0) {
                            workload.transaction(5_000 + writerRandom.nextInt(15_000), writerRandom.nextInt(200));
                        } else if (kind < 9) {
                            workload.transaction(150 + writerRandom.nextInt(350));
                        } else {
                            workload.transaction(1 + writerRandom.nextInt(60));
                        }
                        Thread.sleep(writerRandom.nextInt(15));
                    }
                } catch (Throwable t) {
                    writerFailure.set(t);
                }
            });

            List<String> report = new ArrayList<>();
            try {
                for (int i = 1; i <= KILLS; i++) {
                    CaptureProcess child = CaptureProcess.start(slot + "-" + i, CaptureProcess.QUICK_JVM, db.url, slot,
                            BATCH_SIZE, "run", Duration.ofMinutes(10));
                    // The first kill may land while the child is still starting; the others while it streams.
                    String when;
                    long delay;
                    if (i == 1) {
                        delay = 200 + random.nextInt(1500);
                        Thread.sleep(delay);
                        when = delay + " ms after launch";
                    } else {
                        long streaming = child.awaitOutput("Capturing database", Duration.ofSeconds(60));
                        delay = random.nextInt(2500);
                        Thread.sleep(delay);
                        when = delay + " ms after streaming began (" + streaming + " ms after launch)";
                    }
                    if (!child.process().isAlive()) {
                        fail("The capture child stopped by itself before it was killed: " + child.await(Duration.ofSeconds(5)).describe());
                    }
                    CaptureProcess.Exit killed = child.kill();
                    long stored = db.queryLong("SELECT count(*) FROM annals.changes");
                    db.assertCheckpointAtLastChange("after kill " + i);
                    Duration released = db.awaitSlotReleased(Duration.ofSeconds(60));
                    report.add(String.format("kill %d %s (exit %d): %d of %d committed changes stored, slot released"
                                    + " after %d ms", i, when, killed.code(), stored, workload.committed().size(),
                            released.toMillis()));
                }
            } finally {
                writing.set(false);
                writer.join(TimeUnit.SECONDS.toMillis(30));
            }
            assertThat(writerFailure.get()).as("the workload writer failed").isNull();
            List<Workload.Change> expected = workload.committed();

            CaptureProcess.Exit last = CaptureProcess.run(slot + "-final", CaptureProcess.QUICK_JVM, db.url, slot,
                    BATCH_SIZE, "catch-up", Duration.ofSeconds(120));
            report.forEach(CaptureProcess::note);
            CaptureProcess.note("final run caught up with " + expected.size() + " changes in " + last.elapsed().toMillis() + " ms");
            assertThat(last.code()).as("the last run must catch up; %s", last.describe()).isEqualTo(CrashingCapture.CAUGHT_UP);
            long streamed = db.queryLong("SELECT coalesce(sum(stream_txns), 0) FROM pg_stat_replication_slots"
                    + " WHERE slot_name = '" + slot + "'");
            CaptureProcess.note("the server streamed " + streamed + " transactions before they committed");
            db.assertExactlyOnce(expected);
        }
    }
}
