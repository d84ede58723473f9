package io.annals.capture.pipeline;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The capture worker's Micrometer meters, all tagged with the slot name:
 * {@code annals.capture.changes} (counter; its rate is changes/s), {@code annals.capture.batch.size},
 * {@code annals.capture.latency} (commit on the source to stored in the change log),
 * {@code annals.capture.lag.bytes} and {@code annals.capture.wal.retained.bytes} (gauges),
 * {@code annals.capture.toast.unresolved} (values that could not be filled in), and
 * {@code annals.capture.batch.stage} (timers tagged {@code stage}: where each stored batch's time
 * went, see {@link Stage}; all stages are recorded together, once per batch that stored rows).
 *
 * <pre>{@code
 * Timer commit = registry.find("annals.capture.batch.stage").tag("stage", "commit").timer();
 * }</pre>
 */
public final class CaptureMetrics {

    /** The stages a stored batch goes through, in order; the tag value is the lower-case name. */
    public enum Stage {
        /** The longest of its transactions' time from the source commit to arrival in the reader. */
        STREAM,
        /** From its first change's arrival until the reader handed it over (it waits while the writer is busy). */
        FILL,
        /** In the queue until the writer took it. */
        QUEUE,
        /** Looking up the last stored images that UPDATEs lacking values need (none for INSERTs). */
        PREFETCH,
        /** Turning the changes into change-log rows. */
        RENDER,
        /**
         * The change log's partition check, then the append lock with the checkpoint's update (one
         * round trip), then the COPY: all in the batch's transaction.
         */
        COPY,
        /** The commit, including the server's WAL flush. */
        COMMIT;

        /** The {@code stage} tag's value. */
        public String tag() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** Name of the stage timers. */
    public static final String STAGE_TIMER = "annals.capture.batch.stage";

    final Counter changes;
    final DistributionSummary batchSize;
    final Timer latency;
    final Counter unresolvedToast;
    final AtomicLong lagBytes = new AtomicLong();
    final AtomicLong retainedWalBytes = new AtomicLong();
    private final Timer[] stages = new Timer[Stage.values().length];

    public CaptureMetrics(MeterRegistry registry, String slot) {
        changes = Counter.builder("annals.capture.changes").tag("slot", slot)
                .description("Row changes stored in the change log").register(registry);
        batchSize = DistributionSummary.builder("annals.capture.batch.size").tag("slot", slot)
                .description("Changes per change-log transaction").register(registry);
        latency = Timer.builder("annals.capture.latency").tag("slot", slot)
                .description("From commit on the source to stored in the change log")
                .publishPercentiles(0.5, 0.99).register(registry);
        unresolvedToast = Counter.builder("annals.capture.toast.unresolved").tag("slot", slot)
                .description("Unchanged TOAST values with no earlier image to fill them from").register(registry);
        Gauge.builder("annals.capture.lag.bytes", lagBytes, AtomicLong::get).tag("slot", slot)
                .description("WAL bytes between the server's current position and the slot's confirmed one").register(registry);
        Gauge.builder("annals.capture.wal.retained.bytes", retainedWalBytes, AtomicLong::get).tag("slot", slot)
                .description("WAL the slot keeps the server from recycling").register(registry);
        for (Stage stage : Stage.values()) {
            stages[stage.ordinal()] = Timer.builder(STAGE_TIMER).tag("slot", slot).tag("stage", stage.tag())
                    .description("Time a stored batch spent in one stage of capture").register(registry);
        }
    }

    /** Records one stored batch's stages; {@code nanos} is indexed by {@link Stage#ordinal()}. */
    void recordStages(long[] nanos) {
        for (Stage stage : Stage.values()) {
            stages[stage.ordinal()].record(Math.max(0, nanos[stage.ordinal()]), java.util.concurrent.TimeUnit.NANOSECONDS);
        }
    }
}
