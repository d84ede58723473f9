package io.annals.benchmark;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The command-line settings of {@link CaptureBenchmark}. Parsed by hand to keep the benchmark's
 * dependencies to what capture itself uses.
 */
record BenchmarkSettings(
        long changes,
        int txSize,
        Integer batchSize,
        int latencyRate,
        int latencySeconds,
        int latencyTxRows,
        int latencyWriters,
        int pollMillis,
        boolean probe,
        boolean bare,
        boolean latency,
        List<String> include,
        Path dataDir,
        boolean keep,
        Map<String, String> pgSettings,
        boolean help) {

    /**
     * PostgreSQL settings the benchmark runs with unless overridden by {@code --pg}. Durability
     * stays on (fsync, synchronous_commit, full_page_writes are left at their defaults); only memory
     * and checkpoint spacing are set as a production server on such a machine would have them.
     */
    static Map<String, String> defaultPgSettings() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("shared_buffers", "1GB");
        m.put("max_wal_size", "4GB");
        return m;
    }

    static final String USAGE = """
            Usage: annals-benchmark/run [options]
                   annals-benchmark/run jmh [JMH options]     (micro-benchmarks, e.g. 'jmh PgOutputDecoderBenchmark')
                   annals-benchmark/run changelog [--changes N] [--batch-size N] [--drop-index NAME]
                                                              (the change log's write path alone, no capture)

            Starts an embedded PostgreSQL, writes N small rows, then measures on the same WAL:
              1. bare read   - a replication client that reads the slot stream and decodes nothing (the ceiling)
              2. end to end  - the capture worker from WAL to committed annals.changes rows
              3. latency     - commit-to-stored latency while a paced writer makes changes at a fixed rate

            Options:
              --changes N            row changes to write and capture (default 1000000)
              --tx-size N            rows per source transaction while writing the backlog (default 1000)
              --batch-size N         capture worker batch size, changes per change-log transaction
                                     (default: the worker's own default)
              --latency-rate N       changes per second in the latency phase (default 5000)
              --latency-seconds N    length of the latency phase (default 20)
              --latency-tx-rows N    rows per source transaction in the latency phase (default 1)
              --latency-writers N    connections the paced writer uses (default 8)
              --poll-millis N        how often the benchmark polls annals.changes for its own latency
                                     cross-check; 0 turns the poller off (default 5)
              --latency-probe        in the latency phase, also run a bare reader on a second slot that measures
                                     commit-to-received, to tell stream delay from worker delay (adds load)
              --no-bare              skip the bare-read ceiling
              --no-latency           skip the latency phase
              --include PATTERN      capture only matching tables (repeatable; passed to the worker,
                                     which then publishes only those tables)
              --data-dir PATH        where the cluster lives (default: a fresh temp folder, deleted afterwards)
              --keep                 keep the temp folder and its server log
              --pg NAME=VALUE        PostgreSQL setting (repeatable); defaults: shared_buffers=1GB max_wal_size=4GB
              -h, --help             this text
            """;

    private static final java.util.Set<String> VALUE_OPTIONS = java.util.Set.of("--changes", "--tx-size", "--batch-size",
            "--latency-rate", "--latency-seconds", "--latency-tx-rows", "--latency-writers", "--poll-millis", "--include",
            "--data-dir", "--pg");

    static BenchmarkSettings parse(String[] args) {
        long changes = 1_000_000;
        int txSize = 1_000;
        Integer batchSize = null;
        int latencyRate = 5_000;
        int latencySeconds = 20;
        int latencyTxRows = 1;
        int latencyWriters = 8;
        int pollMillis = 5;
        boolean probe = false;
        boolean bare = true;
        boolean latency = true;
        List<String> include = new ArrayList<>();
        Path dataDir = null;
        boolean keep = false;
        Map<String, String> pg = defaultPgSettings();
        boolean help = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0 && !a.startsWith("--pg=")) {
                value = a.substring(eq + 1);
                a = a.substring(0, eq);
            } else if (a.startsWith("--pg=")) {
                value = a.substring(5);
                a = "--pg";
            }
            switch (a) {
                case "-h", "--help" -> help = true;
                case "--no-bare" -> bare = false;
                case "--latency-probe" -> probe = true;
                case "--no-latency" -> latency = false;
                case "--keep" -> keep = true;
                default -> {
                    if (!VALUE_OPTIONS.contains(a)) throw new IllegalArgumentException("Unknown option " + a);
                    if (value == null) {
                        if (i + 1 >= args.length) throw new IllegalArgumentException("Option " + a + " needs a value");
                        value = args[++i];
                    }
                    switch (a) {
                        case "--changes" -> changes = positiveLong(a, value);
                        case "--tx-size" -> txSize = positiveInt(a, value);
                        case "--batch-size" -> batchSize = positiveInt(a, value);
                        case "--latency-rate" -> latencyRate = positiveInt(a, value);
                        case "--latency-seconds" -> latencySeconds = positiveInt(a, value);
                        case "--latency-tx-rows" -> latencyTxRows = positiveInt(a, value);
                        case "--latency-writers" -> latencyWriters = positiveInt(a, value);
                        case "--poll-millis" -> pollMillis = Integer.parseInt(value);
                        case "--include" -> include.add(value);
                        case "--data-dir" -> dataDir = Path.of(value).toAbsolutePath().normalize();
                        case "--pg" -> {
                            int e = value.indexOf('=');
                            if (e <= 0) throw new IllegalArgumentException("--pg wants NAME=VALUE, not '" + value + "'");
                            pg.put(value.substring(0, e), value.substring(e + 1));
                        }
                        default -> throw new IllegalArgumentException("Unknown option " + a);
                    }
                }
            }
        }
        return new BenchmarkSettings(changes, txSize, batchSize, latencyRate, latencySeconds, latencyTxRows,
                latencyWriters, pollMillis, probe, bare, latency, List.copyOf(include), dataDir, keep, pg, help);
    }

    private static long positiveLong(String option, String value) {
        long v;
        try {
            v = Long.parseLong(value.replace("_", "").replace(",", ""));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " wants a number, not '" + value + "'");
        }
        if (v < 1) throw new IllegalArgumentException(option + " must be positive");
        return v;
    }

    private static int positiveInt(String option, String value) {
        long v = positiveLong(option, value);
        if (v > Integer.MAX_VALUE) throw new IllegalArgumentException(option + " is too large");
        return (int) v;
    }
}
