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
import io.annals.projections.Projection;
import io.annals.projections.Projections;
import io.annals.projections.RunningProjection;
import org.postgresql.ds.PGSimpleDataSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.locks.LockSupport;

/**
 * The projections benchmark ({@code annals-benchmark/run projections}), on one embedded
 * PostgreSQL 18 with durable settings, for the targets of the derived-data issue:
 * <ol>
 *   <li>a Java mapping applying a backlog of {@code --changes} source changes (default
 *       1,000,000) to a read table (target at least 30,000 changes/s), with the heap's peak;</li>
 *   <li>a SQL mapping (a join and an aggregate per key) re-deriving {@code --keys} canonical keys
 *       (default 200,000) from a backlog of their changes (target at least 5,000 keys/s);</li>
 *   <li>a rebuild of {@code --rebuild-rows} read rows (default 1,000,000) from the source table
 *       (target under 60 s);</li>
 *   <li>source commit to read row, with capture in the loop, at {@code --rate} one-row
 *       transactions per second (default 2,000; target p99 under 300 ms).</li>
 * </ol>
 * Run it under {@code ANNALS_JAVA_OPTS=-Xmx256m} to hold the heap to the bound.
 */
@Command(name = "projections", usageHelpWidth = 100,
        description = "Projections: backlog throughput (Java and SQL mappings), rebuild, and latency with capture.")
final class ProjectionsBenchmark implements Callable<Integer> {

    @Option(names = "--changes", paramLabel = "N", defaultValue = "1000000", converter = BenchmarkOptions.PositiveLong.class,
            description = "Backlog of source changes for the Java mapping (default ${DEFAULT-VALUE}).")
    long changes;

    @Option(names = "--keys", paramLabel = "N", defaultValue = "200000", converter = BenchmarkOptions.PositiveInt.class,
            description = "Canonical keys re-derived by the SQL mapping (default ${DEFAULT-VALUE}).")
    int keys;

    @Option(names = "--rebuild-rows", paramLabel = "N", defaultValue = "1000000", converter = BenchmarkOptions.PositiveInt.class,
            description = "Read rows of the rebuild (default ${DEFAULT-VALUE}).")
    int rebuildRows;

    @Option(names = "--rate", paramLabel = "N", defaultValue = "2000", converter = BenchmarkOptions.PositiveInt.class,
            description = "One-row transactions per second in the latency phase (default ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--seconds", paramLabel = "N", defaultValue = "20", converter = BenchmarkOptions.PositiveInt.class,
            description = "Length of the latency phase (default ${DEFAULT-VALUE}).")
    int seconds;

    @Mixin
    private BenchmarkOptions.Help help;

    private final List<String> summary = new ArrayList<>();

    private ProjectionsBenchmark() {
    }

    @Override
    public Integer call() throws Exception {
        Path base = Files.createTempDirectory("annals-bench-projections");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        summary.add("Command   : " + System.getenv().getOrDefault("ANNALS_BENCH_COMMAND", "annals-benchmark/run projections")
                + " (max heap " + (Runtime.getRuntime().maxMemory() >> 20) + " MB)");
        summary.add("Load avg  : " + BenchmarkSupport.loadAverage() + " (before)");
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().dataDirectory(base.resolve("postgres"))
                .setting("shared_buffers", "1GB").setting("max_wal_size", "4GB").start()) {
            try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
                for (String db : List.of("bench_java", "bench_sql", "bench_rebuild", "bench_live")) s.execute("CREATE DATABASE " + db);
            }
            summary.add("Server    : " + BenchmarkSupport.settings(pg.jdbcUrl("bench_java")));
            summary.add("Machine   : " + Runtime.getRuntime().availableProcessors() + " cores, JVM "
                    + System.getProperty("java.runtime.version"));
            javaBacklog(pg.jdbcUrl("bench_java"));
            sqlBacklog(pg.jdbcUrl("bench_sql"));
            rebuild(pg.jdbcUrl("bench_rebuild"));
            latency(pg.jdbcUrl("bench_live"));
        } finally {
            BenchmarkSupport.deleteRecursively(base);
        }
        summary.add("Load avg  : " + BenchmarkSupport.loadAverage() + " (after)");
        System.out.println();
        System.out.println("=== Annals projections benchmark ===");
        summary.forEach(System.out::println);
        return 0;
    }

    private static PGSimpleDataSource ds(String url) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(url);
        return ds;
    }

    private static void execute(String url, String... sql) throws Exception {
        try (Connection c = java.sql.DriverManager.getConnection(url); Statement s = c.createStatement()) {
            for (String q : sql) s.execute(q);
        }
    }

    private static long count(String url, String sql) throws Exception {
        try (Connection c = java.sql.DriverManager.getConnection(url); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static final String READ_TABLE = "CREATE TABLE order_view (canonical_type text NOT NULL, canonical_pk jsonb NOT NULL,"
            + " customer bigint NOT NULL, status text NOT NULL, amount numeric(10,2) NOT NULL, committed_at timestamptz,"
            + " projected_at timestamptz NOT NULL DEFAULT clock_timestamp(), id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)";

    /** One read row per order: a plain Java mapping. */
    private static Projection orderView() {
        return Projection.named("order_view").into("public.order_view")
                .from("public.orders", c -> {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("customer", c.after("customer"));
                    row.put("status", c.after("status"));
                    row.put("amount", c.after("amount"));
                    row.put("committed_at", c.committedAt() == null ? null : c.committedAt().toString());
                    return List.of(row);
                }).build();
    }

    /**
     * Writes {@code n} synthetic changes of {@code table} (keys {@code i % distinct}) through the
     * change log's bulk append, generated as they are written so that memory stays flat.
     */
    private static void backlog(String url, String table, long n, long distinct, Operation op, Row row) {
        ChangeLog log = ChangeLog.at(url);
        log.migrate();
        int perTx = 10;
        Instant at = Instant.now();
        java.util.Iterator<ChangeRow> rows = java.util.stream.LongStream.range(0, n).mapToObj(i -> {
            long lsn = 1_000 + i / perTx;
            long id = i % distinct;
            return new ChangeRow(Position.of(lsn, i % perTx), lsn, at, "bench", "public", table, op,
                    "{\"id\": " + id + "}", null, row.json(id, i), List.of("id"), "{}");
        }).iterator();
        try (ChangeLogWriter writer = log.openWriter("bench", c -> { })) {
            writer.append(rows);
        }
    }

    @FunctionalInterface
    private interface Row {
        String json(long id, long i);
    }

    /** Phase 1: a Java mapping over a backlog of order changes (a tenth of the keys each changed ten times). */
    private void javaBacklog(String url) throws Exception {
        execute(url, "CREATE TABLE orders (id bigint PRIMARY KEY, customer bigint NOT NULL, status text NOT NULL,"
                + " amount numeric(10,2) NOT NULL)", READ_TABLE, "CREATE INDEX ON order_view (canonical_type, canonical_pk)");
        long distinct = Math.max(1, changes / 10);
        backlog(url, "orders", changes, distinct, Operation.UPDATE, (id, i) -> "{\"id\": " + id + ", \"customer\": " + (id % 997)
                + ", \"status\": \"s" + (i % 7) + "\", \"amount\": " + (i % 10_000) / 100.0 + "}");
        ChangeLog.at(url).vacuumAnalyze();
        // The ceiling in the same run: the same backlog through a feed whose handler does nothing.
        long c0 = System.nanoTime();
        try (ChangeFeed feed = ChangeFeed.from(ChangeLog.at(ds(url))).named("ceiling").tables("public.orders")
                .startTransactional(ds(url), (rows, tx) -> { })) {
            if (!feed.awaitCaughtUp(Duration.ofMinutes(30))) throw new IllegalStateException("the no-op feed did not catch up");
        }
        double ceiling = changes / ((System.nanoTime() - c0) / 1e9);
        resetPeaks();
        long t0 = System.nanoTime();
        Projections projections = Projections.over(ChangeLog.at(ds(url))).build();
        try (RunningProjection running = projections.start(orderView())) {
            if (!running.awaitCaughtUp(Duration.ofMinutes(30))) throw new IllegalStateException("the projection did not catch up");
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        double rateDone = changes / secs;
        long rows = count(url, "SELECT count(*) FROM order_view");
        if (rows != distinct) throw new IllegalStateException("order_view has " + rows + " rows, not " + distinct);
        summary.add(BenchmarkSupport.verdict(rateDone >= 30_000, String.format(Locale.ROOT,
                "1. Java mapping    : %,d source changes (%,d keys) applied from a backlog: %,.0f changes/s (%.1f s;"
                        + " target >= 30,000; %.2f of a no-op feed over the same backlog in this run: %,.0f changes/s);"
                        + " peak heap used %,d MB", changes, distinct, rateDone, secs, rateDone / ceiling, ceiling, peakHeapMb())));
    }

    /** Phase 2: a SQL mapping with a join and an aggregate, re-deriving each changed invoice. */
    private void sqlBacklog(String url) throws Exception {
        execute(url, "CREATE TABLE customer (id bigint PRIMARY KEY, name text NOT NULL)",
                "CREATE TABLE invoice (id bigint PRIMARY KEY, customer_id bigint NOT NULL, issued_on date NOT NULL)",
                "CREATE TABLE invoice_item (id bigint PRIMARY KEY, invoice_id bigint NOT NULL, amount numeric(10,2) NOT NULL)",
                "CREATE INDEX ON invoice_item (invoice_id)",
                "INSERT INTO customer SELECT g, 'customer ' || g FROM generate_series(0, 999) g",
                "INSERT INTO invoice SELECT g, g % 1000, DATE '2026-01-01' + g % 365 FROM generate_series(0, " + (keys - 1) + ") g",
                "INSERT INTO invoice_item SELECT g, g % " + keys + ", (g % 1000) / 10.0 FROM generate_series(0, " + (3L * keys - 1) + ") g",
                "CREATE TABLE invoice_summary (canonical_type text NOT NULL, canonical_pk jsonb NOT NULL, customer text NOT NULL,"
                        + " issued_on date NOT NULL, items int NOT NULL, total numeric(12,2) NOT NULL)",
                "CREATE INDEX ON invoice_summary (canonical_type, canonical_pk)", "ANALYZE");
        backlog(url, "invoice", keys, keys, Operation.UPDATE, (id, i) -> "{\"id\": " + id + "}");
        ChangeLog.at(url).vacuumAnalyze();
        Projection summaryProjection = Projection.named("invoice_summary").into("public.invoice_summary")
                .fromQuery("public.invoice", "SELECT i.id AS canonical_pk, c.name AS customer, i.issued_on, count(it.id) AS items,"
                        + " coalesce(sum(it.amount), 0) AS total FROM invoice i JOIN customer c ON c.id = i.customer_id"
                        + " LEFT JOIN invoice_item it ON it.invoice_id = i.id WHERE i.id = ANY(:ids::bigint[])"
                        + " GROUP BY i.id, c.name, i.issued_on")
                .build();
        long t0 = System.nanoTime();
        Projections projections = Projections.over(ChangeLog.at(ds(url))).build();
        try (RunningProjection running = projections.start(summaryProjection)) {
            if (!running.awaitCaughtUp(Duration.ofMinutes(30))) throw new IllegalStateException("the projection did not catch up");
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        double keysPerSecond = keys / secs;
        long rows = count(url, "SELECT count(*) FROM invoice_summary");
        if (rows != keys) throw new IllegalStateException("invoice_summary has " + rows + " rows, not " + keys);
        summary.add(BenchmarkSupport.verdict(keysPerSecond >= 5_000, String.format(Locale.ROOT,
                "2. SQL mapping     : %,d canonical keys re-derived (a join, 3 items each, an aggregate): %,.0f keys/s"
                        + " (%.1f s; target >= 5,000)", keys, keysPerSecond, secs)));
    }

    /** Phase 3: a rebuild of the read table from the source table's rows. */
    private void rebuild(String url) throws Exception {
        execute(url, "CREATE TABLE orders (id bigint PRIMARY KEY, customer bigint NOT NULL, status text NOT NULL,"
                        + " amount numeric(10,2) NOT NULL)", READ_TABLE, "CREATE INDEX ON order_view (canonical_type, canonical_pk)",
                "INSERT INTO orders SELECT g, g % 997, 'new', (g % 10000) / 100.0 FROM generate_series(1, " + rebuildRows + ") g",
                "VACUUM ANALYZE orders");
        ChangeLog.at(url).migrate();
        resetPeaks();
        long t0 = System.nanoTime();
        long rows = Projections.over(ChangeLog.at(ds(url))).build().rebuild(orderView(), Projections.Progress.none());
        double secs = (System.nanoTime() - t0) / 1e9;
        if (rows != rebuildRows || count(url, "SELECT count(*) FROM order_view") != rebuildRows) {
            throw new IllegalStateException("the rebuild wrote " + rows + " rows, not " + rebuildRows);
        }
        summary.add(BenchmarkSupport.verdict(secs < 60, String.format(Locale.ROOT,
                "3. Rebuild         : %,d read rows from a snapshot of the source, swapped in: %.1f s (%,.0f rows/s;"
                        + " target < 60 s); peak heap used %,d MB", rows, secs, rows / secs, peakHeapMb())));
    }

    /** Phase 4: paced one-row transactions at the source, captured, then projected. */
    private void latency(String url) throws Exception {
        execute(url, "CREATE TABLE orders (id bigint PRIMARY KEY, customer bigint NOT NULL, status text NOT NULL,"
                + " amount numeric(10,2) NOT NULL)", READ_TABLE, "CREATE INDEX ON order_view (canonical_type, canonical_pk)");
        long total = (long) rate * seconds;
        try (CaptureWorker worker = CaptureWorker.start(CaptureOptions.builder(url).slot("bench_projections")
                .include(List.of("public.orders")).build())) {
            worker.awaitCaughtUp(Duration.ofSeconds(60));
            Projections projections = Projections.over(ChangeLog.at(ds(url))).build();
            try (RunningProjection running = projections.start(orderView())) {
                running.awaitCaughtUp(Duration.ofSeconds(60));
                try (Connection c = java.sql.DriverManager.getConnection(url);
                     PreparedStatement ps = c.prepareStatement("INSERT INTO orders VALUES (?, 7, 'new', 9.99)")) {
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
                if (!running.awaitCaughtUp(Duration.ofSeconds(60))) throw new IllegalStateException("the projection did not catch up");
            }
        }
        double p50, p99, max;
        long got;
        String perSecond;
        try (Connection c = java.sql.DriverManager.getConnection(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("WITH l AS (SELECT extract(epoch FROM projected_at - committed_at) * 1000 AS ms,"
                     + " extract(epoch FROM committed_at - min(committed_at) OVER ())::int AS sec FROM order_view)"
                     + " SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms),"
                     + " max(ms), count(*), (SELECT string_agg(round(p)::text, ' ' ORDER BY sec) FROM (SELECT sec,"
                     + " percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) p FROM l GROUP BY sec) x) FROM l")) {
            rs.next();
            p50 = rs.getDouble(1);
            p99 = rs.getDouble(2);
            max = rs.getDouble(3);
            got = rs.getLong(4);
            perSecond = rs.getString(5);
        }
        summary.add(BenchmarkSupport.verdict(p99 < 300 && got == total, String.format(Locale.ROOT,
                "4. Latency         : %,d one-row transactions at %,d/s, commit at source -> capture -> read row written in"
                        + " the projector's transaction: p50 %.1f ms, p99 %.1f ms, max %.1f ms, %,d of %,d (target p99 < 300 ms)",
                total, rate, p50, p99, max, got, total)));
        summary.add("   p99 per second (ms): " + perSecond);
    }

    private static void resetPeaks() {
        System.gc();
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) pool.resetPeakUsage();
    }

    private static long peakHeapMb() {
        long peak = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) peak += pool.getPeakUsage().getUsed();
        }
        return peak >> 20;
    }
}
