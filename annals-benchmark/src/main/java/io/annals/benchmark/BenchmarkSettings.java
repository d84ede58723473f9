package io.annals.benchmark;

import io.annals.benchmark.BenchmarkOptions.NonNegativeInt;
import io.annals.benchmark.BenchmarkOptions.PositiveInt;
import io.annals.benchmark.BenchmarkOptions.PositiveLong;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/**
 * The command-line settings of {@link CaptureBenchmark}, which picocli fills in.
 *
 * <pre>{@code
 * annals-benchmark/run --changes 100000 --no-latency --pg shared_buffers=2GB
 * }</pre>
 */
final class BenchmarkSettings {

    @Option(names = "--changes", paramLabel = "N", defaultValue = "1000000", converter = PositiveLong.class,
            description = "row changes to write and capture (default ${DEFAULT-VALUE})")
    long changes;

    @Option(names = "--tx-size", paramLabel = "N", defaultValue = "1000", converter = PositiveInt.class,
            description = "rows per source transaction while writing the backlog (default ${DEFAULT-VALUE})")
    int txSize;

    @Option(names = "--batch-size", paramLabel = "N", converter = PositiveInt.class,
            description = "capture worker batch size, changes per change-log transaction (default: the worker's own default)")
    Integer batchSize;

    @Option(names = "--linger", paramLabel = "MS", defaultValue = "0", converter = NonNegativeInt.class,
            description = "capture worker linger in milliseconds: how long a batch gathers at least before it is stored"
                    + " (CaptureOptions.linger; default ${DEFAULT-VALUE}, the worker's own default)")
    int lingerMillis;

    @Option(names = "--latency-rate", paramLabel = "N", defaultValue = "5000", converter = PositiveInt.class,
            description = "changes per second in the latency phase (default ${DEFAULT-VALUE})")
    int latencyRate;

    @Option(names = "--latency-low-rate", paramLabel = "N", defaultValue = "1000", converter = NonNegativeInt.class,
            description = "changes per second of a second latency phase after the first, with a fresh worker;"
                    + " 0 skips it (default ${DEFAULT-VALUE})")
    int latencyLowRate;

    @Option(names = "--latency-seconds", paramLabel = "N", defaultValue = "20", converter = PositiveInt.class,
            description = "length of the latency phase (default ${DEFAULT-VALUE})")
    int latencySeconds;

    @Option(names = "--latency-tx-rows", paramLabel = "N", defaultValue = "1", converter = PositiveInt.class,
            description = "rows per source transaction in the latency phase (default ${DEFAULT-VALUE})")
    int latencyTxRows;

    @Option(names = "--latency-writers", paramLabel = "N", defaultValue = "8", converter = PositiveInt.class,
            description = "connections the paced writer uses (default ${DEFAULT-VALUE})")
    int latencyWriters;

    @Option(names = "--poll-millis", paramLabel = "N", defaultValue = "5", converter = NonNegativeInt.class,
            description = "how often the benchmark polls annals.changes for its own latency cross-check;"
                    + " 0 turns the poller off (default ${DEFAULT-VALUE})")
    int pollMillis;

    @Option(names = "--latency-probe", description = "in the latency phase, also run a bare reader on a second slot"
            + " that measures commit-to-received, to tell stream delay from worker delay (adds load)")
    boolean probe;

    @Option(names = "--no-bare", description = "skip the bare-read ceiling")
    boolean noBare;

    @Option(names = "--no-latency", description = "skip the latency phase")
    boolean noLatency;

    @Mixin
    BenchmarkOptions.RecvLogical recvLogical;

    @Option(names = "--change-log-db", paramLabel = "NAME", description = "keep the change log (schema annals) in this"
            + " other database on the same server, as a separate change-log database would be (default: in the source"
            + " database)")
    String changeLogDb;

    @Option(names = "--updates", description = "add a phase on a backlog of N single-row UPDATEs spread over"
            + " --update-rows rows (REPLICA IDENTITY DEFAULT, so capture completes each before image from the log)")
    boolean updates;

    @Option(names = "--only-updates", description = "run the UPDATE phase only (implies --updates; no insert phases)")
    boolean onlyUpdates;

    @Option(names = "--update-rows", paramLabel = "N", defaultValue = "100000", converter = PositiveInt.class,
            description = "rows of the table the UPDATE phase changes (default ${DEFAULT-VALUE})")
    int updateRows;

    @Option(names = "--include", paramLabel = "PATTERN", description = "capture only matching tables (repeatable;"
            + " passed to the worker, which then publishes only those tables)")
    List<String> include = new ArrayList<>();

    @Mixin
    BenchmarkOptions.DataDir cluster;

    @Mixin
    BenchmarkOptions.Pg pg;
}
