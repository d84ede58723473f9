package io.annals.benchmark;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.capture.SnapshotMode;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/**
 * A capture worker in a JVM of its own, as {@code annals run} would be, for
 * {@link WritePathBenchmark}, which measures its CPU time apart from the benchmark's. It answers
 * on standard output: {@value #READY} once streaming, {@value #CAUGHT_UP} after each {@code sync}
 * line once everything committed before it is stored; end of input stops it.
 *
 * <pre>{@code
 * java -cp annals-benchmark-all.jar io.annals.benchmark.CaptureProcess SOURCE_URL TARGET_URL SLOT TABLE_PATTERN
 * }</pre>
 */
final class CaptureProcess {

    static final String READY = "annals-bench: ready";
    static final String CAUGHT_UP = "annals-bench: caught up";
    static final String SYNC = "sync";

    private CaptureProcess() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: CaptureProcess SOURCE_URL TARGET_URL SLOT TABLE_PATTERN");
            System.exit(2);
        }
        CaptureOptions options = CaptureOptions.builder(args[0]).target(args[1]).slot(args[2]).snapshot(SnapshotMode.NEVER)
                .include(List.of(args[3])).build();
        try (CaptureWorker worker = CaptureWorker.start(options);
             BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            worker.awaitCaughtUp(Duration.ofMinutes(2));
            System.out.println(READY);
            System.out.flush();
            String line;
            while ((line = in.readLine()) != null) {
                if (line.strip().equals(SYNC)) {
                    worker.awaitCaughtUp(Duration.ofMinutes(10));
                    System.out.println(CAUGHT_UP);
                    System.out.flush();
                }
            }
        }
    }
}
