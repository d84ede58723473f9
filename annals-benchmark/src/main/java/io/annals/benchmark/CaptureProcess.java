package io.annals.benchmark;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.capture.SnapshotMode;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * A capture worker in a JVM of its own, as {@code annals run} would be, for
 * {@link WritePathBenchmark}, which measures its CPU time apart from the benchmark's. It answers
 * on standard output: {@value #READY} once streaming, {@value #CAUGHT_UP} after each {@code sync}
 * line once everything committed before it is stored; end of input stops it.
 *
 * <pre>{@code
 * java -cp annals-benchmark-all.jar io.annals.benchmark.CaptureProcess SOURCE_URL TARGET_URL SLOT TABLE_PATTERN [LINGER_MILLIS]
 * }</pre>
 */
final class CaptureProcess {

    static final String READY = "annals-bench: ready";
    static final String CAUGHT_UP = "annals-bench: caught up";
    static final String SYNC = "sync";
    static final String BATCHES = "annals-bench: batches:";

    private CaptureProcess() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4 && args.length != 5) {
            System.err.println("usage: CaptureProcess SOURCE_URL TARGET_URL SLOT TABLE_PATTERN [LINGER_MILLIS]");
            System.exit(2);
        }
        Duration linger = Duration.ofMillis(args.length == 5 ? Long.parseLong(args[4]) : 0);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        CaptureOptions options = CaptureOptions.builder(args[0]).target(args[1]).slot(args[2]).snapshot(SnapshotMode.NEVER)
                .include(List.of(args[3])).meterRegistry(registry).linger(linger).build();
        Batches batches = new Batches(registry);
        try (CaptureWorker worker = CaptureWorker.start(options);
             BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            worker.awaitCaughtUp(Duration.ofMinutes(2));
            System.out.println(READY);
            System.out.flush();
            String line;
            while ((line = in.readLine()) != null) {
                if (line.strip().equals(SYNC)) {
                    worker.awaitCaughtUp(Duration.ofMinutes(10));
                    System.out.println(batches.sinceLast());
                    System.out.println(CAUGHT_UP);
                    System.out.flush();
                }
            }
        }
    }

    /** The worker's batches since the last report: how many, how large, and the writer's mean time per stage. */
    private static final class Batches {
        private final SimpleMeterRegistry registry;
        private long lastCount;
        private double lastChanges;
        private final java.util.Map<String, Double> lastStageMillis = new java.util.LinkedHashMap<>();

        Batches(SimpleMeterRegistry registry) {
            this.registry = registry;
        }

        String sinceLast() {
            DistributionSummary size = registry.find("annals.capture.batch.size").summary();
            long count = size == null ? 0 : size.count();
            double changes = size == null ? 0 : size.totalAmount();
            long batches = count - lastCount;
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%s %,d batches, %,.0f changes (%.1f per batch);"
                    + " mean ms per batch:", BATCHES, batches, changes - lastChanges, batches == 0 ? 0 : (changes - lastChanges) / batches));
            for (Timer t : registry.find(CaptureBenchmark.STAGE_TIMER).timers()) {
                String stage = t.getId().getTag("stage");
                double total = t.totalTime(TimeUnit.MILLISECONDS);
                line.append(String.format(Locale.ROOT, " %s %.2f", stage,
                        batches == 0 ? 0 : (total - lastStageMillis.getOrDefault(stage, 0.0)) / batches));
                lastStageMillis.put(stage, total);
            }
            lastCount = count;
            lastChanges = changes;
            return line.toString();
        }
    }
}
