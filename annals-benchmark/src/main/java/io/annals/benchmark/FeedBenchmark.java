package io.annals.benchmark;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeLogWriter;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.changelog.feed.ChangeFeed;
import io.annals.embedded.EmbeddedPostgres;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;
import org.postgresql.ds.PGSimpleDataSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The change feed benchmark ({@code annals-benchmark/run feed}), on one embedded PostgreSQL 18 with
 * durable settings, for the targets of the change-feed issue:
 * <ol>
 *   <li>a feed consuming a backlog of {@code --changes} (default 1,000,000) into a no-op
 *       exactly-once handler (target at least 100,000 changes/s), beside the raw ceiling: the same
 *       rows read with a plain {@code COPY ... TO STDOUT} in id order;</li>
 *   <li>commit at the source to the feed's handler, with the capture worker in the loop, at
 *       {@code --rate} (default 2,000) one-row transactions per second for {@code --seconds}
 *       (target p99 under 100 ms).</li>
 * </ol>
 */
@Command(name = "feed", usageHelpWidth = 100,
        description = "Change feed throughput over a backlog, and latency from source commit to handler with capture.")
final class FeedBenchmark implements Callable<Integer> {

    @Option(names = "--changes", paramLabel = "N", defaultValue = "1000000", converter = BenchmarkOptions.PositiveLong.class,
            description = "Backlog size for phase 1 (default ${DEFAULT-VALUE}).")
    long changes;

    @Option(names = "--rate", paramLabel = "N", defaultValue = "2000", converter = BenchmarkOptions.PositiveInt.class,
            description = "One-row transactions per second in phase 2 (default ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--seconds", paramLabel = "N", defaultValue = "20", converter = BenchmarkOptions.PositiveInt.class,
            description = "Length of phase 2 (default ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "1000", converter = BenchmarkOptions.PositiveInt.class,
            description = "The feed's batch size (default ${DEFAULT-VALUE}).")
    int batchSize;

    @Mixin
    private BenchmarkOptions.Help help;

    private final List<String> summary = new ArrayList<>();

    private FeedBenchmark() {
    }

    @Override
    public Integer call() throws Exception {
        Path base = Files.createTempDirectory("annals-bench-feed");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        summary.add("Command   : annals-benchmark/run feed --changes " + changes + " --rate " + rate + " --seconds " + seconds
                + " --batch-size " + batchSize);
        summary.add("Load avg  : " + BenchmarkSupport.loadAverage() + " (before)");
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().dataDirectory(base.resolve("postgres"))
                .setting("shared_buffers", "1GB").setting("max_wal_size", "4GB").start()) {
            try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE bench_backlog");
                s.execute("CREATE DATABASE bench_live");
            }
            summary.add("Server    : " + BenchmarkSupport.settings(pg.jdbcUrl("bench_backlog")));
            summary.add("Machine   : " + Runtime.getRuntime().availableProcessors() + " cores, JVM "
                    + System.getProperty("java.runtime.version"));
            backlog(pg.jdbcUrl("bench_backlog"));
            latency(pg.jdbcUrl("bench_live"));
        } finally {
            BenchmarkSupport.deleteRecursively(base);
        }
        summary.add("Load avg  : " + BenchmarkSupport.loadAverage() + " (after)");
        System.out.println();
        System.out.println("=== Annals change feed benchmark ===");
        summary.forEach(System.out::println);
        return 0;
    }

    /** Phase 1: the backlog, written with the change log's own writer, then read by a feed and by COPY. */
    private void backlog(String url) throws Exception {
        ChangeLog log = ChangeLog.at(url);
        log.migrate();
        int perTx = 10;
        try (ChangeLogWriter writer = log.openWriter("bench", c -> { })) {
            List<ChangeRow> batch = new ArrayList<>(10_000);
            Instant at = Instant.now();
            for (long i = 0; i < changes; i++) {
                long lsn = 1_000 + i / perTx;
                String key = "{\"id\": " + i + "}";
                batch.add(new ChangeRow(Position.of(lsn, i % perTx), lsn, at, "bench", "public", "orders", Operation.CREATE,
                        key, null, "{\"id\": " + i + ", \"status\": \"new\", \"amount\": 12.50, \"customer\": " + (i % 997) + "}",
                        List.of("id", "status", "amount", "customer"), "{\"request_id\": \"r-" + (i / 50) + "\"}"));
                if (batch.size() == 10_000) {
                    writer.write(batch, lsn + 1);
                    batch.clear();
                }
            }
            writer.write(batch, 0);
        }
        ChangeLog.at(url).vacuumAnalyze();
        // The raw ceiling: the same columns in the same order through one COPY, nothing decoded.
        long t0 = System.nanoTime();
        long bytes;
        try (Connection c = java.sql.DriverManager.getConnection(url)) {
            CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
            CountingStream out = new CountingStream();
            copy.copyOut("COPY (SELECT id, position, transaction_id, committed_at, database, \"schema\", \"table\","
                    + " operation, primary_key, before, after, changed_columns, context, withheld FROM annals.changes"
                    + " ORDER BY id) TO STDOUT", out);
            bytes = out.count;
        }
        double copySeconds = (System.nanoTime() - t0) / 1e9;
        double copyRate = changes / copySeconds;

        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(url);
        AtomicLong delivered = new AtomicLong();
        t0 = System.nanoTime();
        try (ChangeFeed feed = ChangeFeed.from(ChangeLog.at(ds)).named("backlog").batchSize(batchSize)
                .startTransactional(ds, (rows, tx) -> delivered.addAndGet(rows.size()))) {
            if (!feed.awaitCaughtUp(Duration.ofMinutes(30))) throw new IllegalStateException("the feed did not catch up");
        }
        double feedSeconds = (System.nanoTime() - t0) / 1e9;
        double feedRate = delivered.get() / feedSeconds;
        if (delivered.get() != changes) {
            throw new IllegalStateException("the feed delivered " + delivered.get() + " changes, not " + changes);
        }
        summary.add(String.format(Locale.ROOT, "1. Raw ceiling     : COPY of the same %,d rows in id order: %,.0f rows/s"
                + " (%.1f s, %,d MB)", changes, copyRate, copySeconds, bytes >> 20));
        summary.add(BenchmarkSupport.verdict(feedRate >= 100_000, String.format(Locale.ROOT,
                "1. Feed backlog    : %,d changes, exactly-once no-op handler, batches of %,d: %,.0f changes/s (%.1f s;"
                        + " %.2f of the COPY ceiling; target >= 100,000)", delivered.get(), batchSize, feedRate,
                feedSeconds, feedRate / copyRate)));
    }

    /** Phase 2: paced one-row transactions at the source, captured, then delivered by a feed. */
    private void latency(String url) throws Exception {
        try (Connection c = java.sql.DriverManager.getConnection(url); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE orders (id bigint PRIMARY KEY, status text NOT NULL, amount numeric(10,2))");
        }
        long total = (long) rate * seconds;
        long[] latencyMicros = new long[(int) total + 16];
        long[] second = new long[(int) total + 16];
        AtomicLong n = new AtomicLong();
        Instant start = Instant.now();
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(url);
        try (CaptureWorker worker = CaptureWorker.start(CaptureOptions.builder(url).slot("bench_feed").build());
             ChangeFeed feed = ChangeFeed.from(ChangeLog.at(ds)).named("latency").tables("public.orders")
                     .startingAtEnd().startTransactional(ds, (rows, tx) -> {
                         Instant now = Instant.now();
                         for (ChangeRow r : rows) {
                             int i = (int) n.getAndIncrement();
                             if (i < latencyMicros.length) {
                                 latencyMicros[i] = Duration.between(r.committedAt(), now).toNanos() / 1_000;
                                 second[i] = Duration.between(start, r.committedAt()).getSeconds();
                             }
                         }
                     })) {
            worker.awaitCaughtUp(Duration.ofSeconds(60));
            try (Connection c = java.sql.DriverManager.getConnection(url);
                 PreparedStatement ps = c.prepareStatement("INSERT INTO orders VALUES (?, 'new', 9.99)")) {
                long t0 = System.nanoTime();
                long interval = 1_000_000_000L / rate;
                for (long i = 0; i < total; i++) {
                    long due = t0 + i * interval;
                    long wait = due - System.nanoTime();
                    if (wait > 0) LockSupport.parkNanos(wait);
                    ps.setLong(1, i);
                    ps.executeUpdate();
                }
            }
            worker.awaitCaughtUp(Duration.ofSeconds(60));
            if (!feed.awaitCaughtUp(Duration.ofSeconds(60))) throw new IllegalStateException("the feed did not catch up");
        }
        int got = (int) Math.min(n.get(), total);
        long[] sorted = Arrays.copyOf(latencyMicros, got);
        Arrays.sort(sorted);
        double p50 = percentile(sorted, 0.50) / 1000.0;
        double p99 = percentile(sorted, 0.99) / 1000.0;
        double max = got == 0 ? 0 : sorted[got - 1] / 1000.0;
        StringBuilder perSecond = new StringBuilder();
        for (int s = 0; s <= seconds; s++) {
            List<Long> in = new ArrayList<>();
            for (int i = 0; i < got; i++) if (second[i] == s) in.add(latencyMicros[i]);
            if (in.isEmpty()) continue;
            long[] a = in.stream().mapToLong(Long::longValue).sorted().toArray();
            perSecond.append(String.format(Locale.ROOT, " %.0f", percentile(a, 0.99) / 1000.0));
        }
        summary.add(BenchmarkSupport.verdict(p99 < 100 && got == total, String.format(Locale.ROOT,
                "2. Feed latency    : %,d one-row transactions at %,d/s, commit at source -> capture -> feed handler:"
                        + " p50 %.1f ms, p99 %.1f ms, max %.1f ms, %,d of %,d delivered (target p99 < 100 ms)",
                total, rate, p50, p99, max, got, total)));
        summary.add("   p99 per second (ms):" + perSecond);
    }

    private static long percentile(long[] sorted, double p) {
        if (sorted.length == 0) return 0;
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
    }

    /** Counts and drops what COPY sends. */
    private static final class CountingStream extends OutputStream {
        long count;

        @Override
        public void write(int b) {
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            count += len;
        }
    }
}
