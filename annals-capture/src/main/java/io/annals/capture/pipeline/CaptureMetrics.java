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
 * {@code annals.capture.lag.bytes} and {@code annals.capture.wal.retained.bytes} (gauges), and
 * {@code annals.capture.toast.unresolved} (values that could not be filled in).
 */
public final class CaptureMetrics {

    final Counter changes;
    final DistributionSummary batchSize;
    final Timer latency;
    final Counter unresolvedToast;
    final AtomicLong lagBytes = new AtomicLong();
    final AtomicLong retainedWalBytes = new AtomicLong();

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
    }
}
