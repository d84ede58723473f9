package io.annals.benchmark;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.cumulative.CumulativeTimer;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;
import io.micrometer.core.instrument.distribution.pause.PauseDetector;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A meter registry that also keeps every sample its timers record, with the moment it was recorded,
 * so that the benchmark can cut a phase into seconds, leave out its first seconds, or line the
 * capture worker's per-batch stage timers up batch by batch, none of which a histogram allows.
 *
 * <pre>{@code
 * SampleRegistry registry = new SampleRegistry();
 * // ... hand it to a CaptureWorker, run the load ...
 * SampleRegistry.Samples latency = registry.samples("annals.capture.latency", null, null);
 * }</pre>
 */
final class SampleRegistry extends SimpleMeterRegistry {

    /** The samples of one timer: when each was recorded ({@link System#nanoTime()}) and its value in nanoseconds. */
    static final class Samples {
        private long[] at = new long[1 << 12];
        private long[] nanos = new long[1 << 12];
        private int count;

        synchronized void add(long when, long value) {
            if (count == at.length) {
                at = Arrays.copyOf(at, count * 2);
                nanos = Arrays.copyOf(nanos, count * 2);
            }
            at[count] = when;
            nanos[count++] = value;
        }

        synchronized int count() {
            return count;
        }

        synchronized long[] at() {
            return Arrays.copyOf(at, count);
        }

        synchronized long[] nanos() {
            return Arrays.copyOf(nanos, count);
        }
    }

    private final Map<Meter.Id, Samples> samples = new ConcurrentHashMap<>();

    @Override
    protected Timer newTimer(Meter.Id id, DistributionStatisticConfig config, PauseDetector pauseDetector) {
        Samples s = samples.computeIfAbsent(id, k -> new Samples());
        return new CumulativeTimer(id, clock, config, pauseDetector, getBaseTimeUnit(), false) {
            @Override
            protected void recordNonNegative(long amount, TimeUnit unit) {
                super.recordNonNegative(amount, unit);
                s.add(System.nanoTime(), unit.toNanos(amount));
            }
        };
    }

    /** The samples of the timer with this name (and tag, unless {@code tagKey} is null); empty when there is none. */
    Samples samples(String name, String tagKey, String tagValue) {
        for (Map.Entry<Meter.Id, Samples> e : samples.entrySet()) {
            Meter.Id id = e.getKey();
            if (id.getName().equals(name) && (tagKey == null || tagValue.equals(id.getTag(tagKey)))) return e.getValue();
        }
        return new Samples();
    }
}
