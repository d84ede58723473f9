package io.annals.benchmark;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.capture.SnapshotMode;
import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeLogWriter;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.changelog.feed.ChangeFeed;
import io.annals.embedded.EmbeddedPostgres;
import io.annals.history.AuditTrail;
import io.annals.history.Change;
import io.annals.history.keyframes.Keyframe;
import io.annals.history.keyframes.Keyframer;
import io.annals.history.keyframes.Keyframes;
import io.annals.history.revert.RevertPlan;
import io.annals.history.timetravel.AsOf;
import io.annals.history.timetravel.Materialization;
import io.annals.history.timetravel.RowDiff;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.postgresql.ds.PGSimpleDataSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

import java.io.IOException;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * The audit-trail, time-travel and revert benchmark: annals-history's read and revert paths over a
 * change log of N changes (10,000,000 by default), on one embedded PostgreSQL with durable settings.
 *
 * <ol>
 *   <li><b>Filler</b>: N synthetic changes made in the JVM and streamed into the log by its own bulk
 *       append ({@link ChangeLogWriter#append}, COPY), shaped like captured ones: 20 tables of schema {@code shop}
 *       ({@code shop.orders} with 100,000 rows, 19 others with about 21,000 each), every row created
 *       and then updated round after round, so each row has N / 500,000 changes (20 at 10M); in the
 *       odd tables rows are also deleted and re-created. Eight changes per transaction; positions,
 *       transaction ids and commit times increase in commit order; images are about 250 bytes.</li>
 *   <li><b>Real</b>: table {@code bench.accounts} (100,000 rows) written by ordinary transactions
 *       and captured by a real {@link CaptureWorker}, after the filler, so positions stay in order.</li>
 *   <li><b>Measurements</b>: a row's history and its as-of read (latency percentiles over random
 *       rows), a 100,000-row table as of an instant streamed to the end, reverts of 10,000-change
 *       transactions (plan and apply), table diffs, and materialisation into a schema.</li>
 *   <li><b>Plans</b>: each measured API call once more through connections that load
 *       {@code auto_explain} with ANALYZE and BUFFERS, and the plans of every statement it ran,
 *       read back from the server log: the exact SQL the library runs, not a copy of it.</li>
 * </ol>
 *
 * <pre>
 * annals-benchmark/run history                      # 10,000,000 changes
 * annals-benchmark/run history --changes 1000000    # a quick check
 * </pre>
 */
@Command(name = "history", usageHelpWidth = 100,
        header = "annals-history over a change log of N changes: rows, tables, reverts, diffs, and their plans.",
        description = {"Loads a change log of N changes (synthetic ones, then 100,000 rows of bench.accounts captured by a"
                + " real worker) into an embedded PostgreSQL and measures annals-history on it:",
                "  (a) a row's history and a row as of an instant: latency percentiles over random rows",
                "  (b) a 100,000-row table as of an instant, streamed to the end",
                "  (c) reverting a 10,000-change transaction: plan, then apply",
                "  (d) table diffs between two instants; (e) materialising a table into a schema",
                "  (f) keyframes: the keyframer, then (b) and an as-of copy with them (warm, cold),",
                "      beside a plain CREATE TABLE AS copy of the same rows",
                "then prints the plan of every statement each call runs (auto_explain with ANALYZE and BUFFERS)."})
final class HistoryBenchmark implements Callable<Integer> {

    static final double TARGET_ROW_MEDIAN_MS = 2;
    static final double TARGET_TABLE_SECONDS = 2;
    static final double TARGET_REVERT_SECONDS = 5;
    static final double TARGET_KEYFRAME_TABLE_SECONDS = 1;
    static final double STRETCH_COPY_RATIO = 5;

    /** Rows of all synthetic tables together; shop.orders holds the first 100,000 of them. */
    static final int ROWS = 500_000;
    static final int ORDERS_ROWS = 100_000;
    static final int OTHER_TABLES = 19;
    /** Spreads consecutive changes over rows and tables (coprime with ROWS, so every row comes once per round). */
    static final long STRIDE = 7_919;
    static final int CHANGES_PER_TX = 8;
    /** WAL bytes between two synthetic commits: about 250 bytes of WAL per change, as a real log of such rows. */
    static final long LSN_PER_TX = 2_048;
    static final long FIRST_LSN = 0x100_0000L;
    /** Synthetic changes between two looks at the clock for a progress line. */
    static final int FILL_CHUNK = 250_000;

    static final int ACCOUNTS = 100_000;
    static final int REVERT_ROWS = 10_000;
    static final int REVERT_RUNS = 3;
    static final int TABLE_RUNS = 2;
    static final int SLOW_CALL_MS = 100;
    static final int SLOW_CALLS = 3;

    static final String[] TABLES = {"orders", "customers", "invoices", "payments", "shipments", "products", "carts",
            "cart_items", "addresses", "sessions", "reviews", "refunds", "coupons", "suppliers", "warehouses",
            "stock_moves", "tickets", "messages", "subscriptions", "notes"};
    static final List<String> ALL_COLUMNS = List.of("id", "customer_id", "status", "amount", "currency", "email", "note",
            "created_at", "updated_at", "version");

    @Mixin
    private Settings settings;
    @Mixin
    private BenchmarkOptions.Help help;
    @Spec
    private CommandSpec spec;
    private final PrintStream out = System.out;
    private final List<String> summary = new ArrayList<>();
    private final List<String> verdicts = new ArrayList<>();
    private final Random random = new Random(42);

    private EmbeddedPostgres pg;
    private Path serverLog;
    private String url;
    private HikariDataSource pool;
    private AuditTrail trail;
    private CaptureWorker worker;
    /** Synthetic transactions, and the instant of the last synthetic commit. */
    private long fillerTransactions;
    private Instant fillerStart;
    private Instant fillerEnd;
    private long lastFillerLsn;
    /** Instants around the first real update of bench.accounts, for its diff. */
    private Instant beforeUpdate;
    private Instant afterUpdate;

    private HistoryBenchmark() {
    }

    @Override
    public Integer call() throws Exception {
        if (settings.reuse && settings.cluster.dataDir() == null) {
            throw new ParameterException(spec.commandLine(), "--reuse needs the --data-dir of the earlier run");
        }
        return run(BenchmarkSupport.arguments(spec));
    }

    private int run(String[] args) throws Exception {
        boolean temporary = settings.cluster.dataDir() == null;
        Path base = temporary ? Files.createTempDirectory("annals-bench-history") : settings.cluster.dataDir();
        Files.createDirectories(base);
        // When run as root the server runs as 'nobody', which must be able to enter the folder.
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path dataDir = base.resolve("postgres");
        serverLog = dataDir.resolveSibling("postgres.log");
        heading("Annals history benchmark");
        summary.add("Command        : java -jar annals-benchmark-all.jar " + String.join(" ", args));
        summary.add("Load (1/5/15m) : " + loadAverage() + " at the start");
        EmbeddedPostgres.Builder builder = settings.pg.builder(dataDir);
        pg = builder.start();
        Thread hook = new Thread(() -> pg.stop());
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            if (!settings.reuse) {
                try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
                    s.execute("DROP DATABASE IF EXISTS bench WITH (FORCE)");
                    s.execute("CREATE DATABASE bench");
                }
            }
            url = pg.jdbcUrl("bench");
            machineFacts();
            summary.forEach(out::println);
            if (settings.reuse) resume();
            else load();
            pool = pool(url);
            trail = AuditTrail.of(pool);
            if (settings.runs("a")) rowLatencies();
            if (settings.runs("b")) tableAsOf();
            if (settings.runs("c")) reverts();
            if (settings.runs("d")) diffs();
            if (settings.runs("e")) materialize();
            if (settings.runs("f")) keyframes(builder);
            if (!settings.noExplain) explain();
        } finally {
            if (worker != null) worker.close();
            if (pool != null) pool.close();
            pg.stop();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // Shutting down already.
            }
            if (temporary && !settings.cluster.keep) deleteRecursively(base);
            else out.println("Kept " + base + " (server log: " + serverLog + ")");
        }
        summary.add("Load (1/5/15m) : " + loadAverage() + " at the end");
        printSummary();
        return verdicts.stream().anyMatch(v -> v.startsWith("MISSED")) ? 3 : 0;
    }

    // ---------------------------------------------------------------------------------- loading

    private void load() throws SQLException {
        heading("Loading the change log");
        ChangeLog.at(url).migrate();
        long n = settings.changes;
        fillerTransactions = (n + CHANGES_PER_TX - 1) / CHANGES_PER_TX;
        long started = System.nanoTime();
        long firstXid = burnTransactionIds(fillerTransactions);
        fill(n, firstXid);
        double fillSeconds = (System.nanoTime() - started) / 1e9;
        lastFillerLsn = FIRST_LSN + (fillerTransactions - 1) * LSN_PER_TX;
        advanceWalBeyond(lastFillerLsn);
        captureAccounts();
        started = System.nanoTime();
        ChangeLog.at(url).vacuumAnalyze();
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            s.execute("CHECKPOINT");
        }
        double vacuumSeconds = (System.nanoTime() - started) / 1e9;
        describeLog(String.format(Locale.ROOT, "filler loaded in %.0f s, VACUUM ANALYZE %.0f s", fillSeconds, vacuumSeconds));
    }

    /**
     * Picks up the change log an earlier run loaded into {@code --data-dir} (its measurements
     * leave bench.accounts as the log says it is), and starts capture again on its slot.
     */
    private void resume() throws SQLException {
        heading("Reusing the change log loaded by an earlier run");
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT min(committed_at), max(committed_at) FROM annals.changes"
                     + " WHERE \"schema\" = 'shop' AND \"table\" = 'orders'")) {
            rs.next();
            if (rs.getObject(1) == null) {
                throw new IllegalStateException("--reuse: the database bench in " + settings.cluster.dataDir()
                        + " holds no loaded change log; run once without --reuse");
            }
            fillerStart = rs.getObject(1, java.time.OffsetDateTime.class).toInstant();
            fillerEnd = rs.getObject(2, java.time.OffsetDateTime.class).toInstant();
        }
        worker = CaptureWorker.start(CaptureOptions.builder(url).include(List.of("bench.accounts"))
                .snapshot(SnapshotMode.NEVER).meterRegistry(new SimpleMeterRegistry()).build());
        worker.awaitCaughtUp(Duration.ofMinutes(5));
        describeLog("loaded by an earlier run, reused");
    }

    private void describeLog(String how) throws SQLException {
        long n = settings.changes;
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*), pg_size_pretty(pg_table_size('annals.changes')),"
                     + " pg_size_pretty(pg_indexes_size('annals.changes')),"
                     + " (SELECT avg(pg_column_size(after)) FROM annals.changes TABLESAMPLE SYSTEM (1) WHERE after IS NOT NULL),"
                     + " (SELECT count(*) FROM annals.changes WHERE \"schema\" = 'bench')"
                     + " FROM annals.changes")) {
            rs.next();
            String line = String.format(Locale.ROOT, "Change log     : %,d changes (%,d synthetic, %,d captured from bench.accounts);"
                            + " table %s, indexes %s; after images %.0f bytes on average; %s",
                    rs.getLong(1), rs.getLong(1) - rs.getLong(5), rs.getLong(5), rs.getString(2), rs.getString(3),
                    rs.getDouble(4), how);
            out.println(line);
            summary.add(line);
        }
        summary.add(String.format(Locale.ROOT, "Synthetic rows : %,d rows in 20 tables of schema shop (shop.orders %,d rows),"
                        + " %.1f changes per row, %d changes per transaction, commit times %s .. %s",
                ROWS, ORDERS_ROWS, (double) n / ROWS, CHANGES_PER_TX, fillerStart, fillerEnd));
    }

    /**
     * Consumes one real transaction id per synthetic transaction, so that the ids the filler records
     * are ids the server really handed out, below those of the captured transactions that follow:
     * transaction ids increase in commit order in the log, as in a real one.
     */
    private long burnTransactionIds(long count) throws SQLException {
        long started = System.nanoTime();
        long first;
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            // Empty transactions: no need to wait for each commit record to reach the disk.
            s.execute("SET synchronous_commit = off");
            try (ResultSet rs = s.executeQuery("SELECT txid_current() & 4294967295")) {
                rs.next();
                first = rs.getLong(1) + 1;
            }
            for (long done = 0; done < count; ) {
                long chunk = Math.min(200_000, count - done);
                s.execute("DO $$ BEGIN FOR i IN 1.." + chunk + " LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$");
                done += chunk;
            }
            try (ResultSet rs = s.executeQuery("SELECT txid_current() & 4294967295")) {
                rs.next();
                if (rs.getLong(1) < first + count) {
                    throw new IllegalStateException("Expected to have used transaction ids up to " + (first + count)
                            + ", but the next one is " + rs.getLong(1));
                }
            }
        }
        out.printf(Locale.ROOT, "  %,d transaction ids consumed for the synthetic transactions in %.1f s%n", count,
                (System.nanoTime() - started) / 1e9);
        return first;
    }

    private void fill(long n, long firstXid) {
        Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        fillerStart = now.minus(Duration.ofDays(30));
        // The synthetic history ends an hour ago; the captured changes come after it.
        long spanMicros = Duration.between(fillerStart, now.minus(Duration.ofHours(1))).toNanos() / 1000;
        long microsPerTx = Math.max(1, spanMicros / fillerTransactions);
        fillerEnd = fillerStart.plus((fillerTransactions - 1) * microsPerTx, ChronoUnit.MICROS);
        Filler filler = new Filler(n, firstXid, fillerStart, microsPerTx);
        long started = System.nanoTime();
        long appended;
        try (ChangeLogWriter writer = ChangeLog.at(url).openWriter("annals-bench-filler", c -> { })) {
            appended = writer.append(filler);
        }
        double s = (System.nanoTime() - started) / 1e9;
        out.printf(Locale.ROOT, "  %,d synthetic changes after %.0f s (%,.0f/s), load %s%n", appended, s, appended / s,
                loadAverage());
    }

    /**
     * The synthetic changes, made one at a time as the change log's bulk append asks for them (so
     * memory stays flat at any size). Change g is row r of round k: shop.orders holds r < 100,000,
     * the other tables take the rest in turn. Round 0 creates every row, later rounds update it; in
     * the odd tables a row is deleted now and then ((r + k) % 40 = 0) and created again in the next
     * round. Eight changes per transaction, with increasing positions, ids and commit times.
     */
    private final class Filler implements Iterator<ChangeRow> {
        private static final String[] STATUSES = {"new", "paid", "packed", "shipped", "delivered", "returned"};
        private static final List<String> UPDATED = List.of("status", "amount", "note", "updated_at", "version");
        private static final List<String> KEY = List.of("id");
        private static final Instant CREATED_BASE = Instant.parse("2026-01-01T00:00:00Z");
        private static final HexFormat HEX = HexFormat.of();

        private final long n;
        private final long firstXid;
        private final Instant t0;
        private final long microsPerTx;
        private final MessageDigest md5;
        private final StringBuilder json = new StringBuilder(512);
        private final long started = System.nanoTime();
        private long lastReport = started;
        private long g;

        Filler(long n, long firstXid, Instant t0, long microsPerTx) {
            this.n = n;
            this.firstXid = firstXid;
            this.t0 = t0;
            this.microsPerTx = microsPerTx;
            try {
                this.md5 = MessageDigest.getInstance("MD5");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public boolean hasNext() {
            return g < n;
        }

        @Override
        public ChangeRow next() {
            if (g >= n) throw new NoSuchElementException();
            long tx = g / CHANGES_PER_TX;
            int k = (int) (g / ROWS);
            long r = (g % ROWS) * STRIDE % ROWS;
            int tidx = r < ORDERS_ROWS ? 0 : (int) (1 + (r - ORDERS_ROWS) % OTHER_TABLES);
            long id = r < ORDERS_ROWS ? r + 1 : (r - ORDERS_ROWS) / OTHER_TABLES + 1;
            Instant at = t0.plus(tx * microsPerTx, ChronoUnit.MICROS);
            boolean odd = tidx % 2 == 1;
            Operation op = k == 0 ? Operation.CREATE
                    : odd && (r + k) % 40 == 0 ? Operation.DELETE
                    : odd && k >= 2 && (r + k) % 40 == 1 ? Operation.CREATE
                    : Operation.UPDATE;
            String key = "{\"id\":" + id + "}";
            String before = op == Operation.CREATE ? null
                    : odd ? key
                    : image(id, k - 1, t0.plus((g - ROWS) / CHANGES_PER_TX * microsPerTx, ChronoUnit.MICROS));
            String after = op == Operation.DELETE ? null : image(id, k, at);
            List<String> changed = op == Operation.UPDATE ? UPDATED : op == Operation.DELETE ? KEY : ALL_COLUMNS;
            ChangeRow row = new ChangeRow(Position.of(FIRST_LSN + tx * LSN_PER_TX, g % CHANGES_PER_TX), firstXid + tx, at,
                    "bench", "shop", TABLES[tidx], op, key, before, after, changed,
                    "{\"user_id\":" + (tx % 5000 + 1) + ",\"request_id\":\"req-" + tx + "\"}");
            g++;
            if (g % FILL_CHUNK == 0 && g < n && System.nanoTime() - lastReport > TimeUnit.SECONDS.toNanos(15)) {
                lastReport = System.nanoTime();
                double s = (lastReport - started) / 1e9;
                out.printf(Locale.ROOT, "  %,d synthetic changes after %.0f s (%,.0f/s), load %s%n", g, s, g / s,
                        loadAverage());
            }
            return row;
        }

        /**
         * About 250 bytes of JSON, the same image for the same (id, round), so that a change's
         * before image is exactly the previous change's after image.
         */
        private String image(long id, int k, Instant at) {
            long customer = id * 7919 % 50_000 + 1;
            json.setLength(0);
            json.append("{\"id\":").append(id)
                    .append(",\"customer_id\":").append(customer)
                    .append(",\"status\":\"").append(STATUSES[(int) ((id + k) % 6)])
                    .append("\",\"amount\":").append(BigDecimal.valueOf((id * 31 + k * 17L) % 100_000, 2).toPlainString())
                    .append(",\"currency\":\"EUR\",\"email\":\"customer").append(customer).append("@example.com\"")
                    .append(",\"note\":\"note ").append(HEX.formatHex(
                            md5.digest((id + "/" + k).getBytes(StandardCharsets.US_ASCII))))
                    .append("\",\"created_at\":\"");
            timestamp(json, CREATED_BASE.plusSeconds(id));
            json.append("\",\"updated_at\":\"");
            timestamp(json, at);
            return json.append("\",\"version\":").append(k).append('}').toString();
        }
    }

    /** {@code at} as to_jsonb writes a timestamptz in UTC: seconds always, a fraction without trailing zeros. */
    static void timestamp(StringBuilder out, Instant at) {
        LocalDateTime t = LocalDateTime.ofEpochSecond(at.getEpochSecond(), 0, ZoneOffset.UTC);
        out.append(t.toLocalDate()).append('T');
        two(out, t.getHour()).append(':');
        two(out, t.getMinute()).append(':');
        two(out, t.getSecond());
        int micros = at.getNano() / 1000;
        if (micros != 0) {
            int digits = 6;
            for (; micros % 10 == 0; micros /= 10) digits--;
            String fraction = Integer.toString(micros);
            out.append('.').append("0".repeat(digits - fraction.length())).append(fraction);
        }
        out.append("+00:00");
    }

    private static StringBuilder two(StringBuilder out, int value) {
        return out.append(value < 10 ? "0" : "").append(value);
    }

    /**
     * The synthetic positions must stay below those of the captured changes that follow. Loading
     * them writes far more WAL than they span, so this normally does nothing; it makes sure.
     */
    private void advanceWalBeyond(long lsn) throws SQLException {
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            int switches = 0;
            while (currentWal(s) <= lsn) {
                s.execute("SELECT pg_logical_emit_message(false, 'annals-bench', 'advance'), pg_switch_wal()");
                switches++;
            }
            out.printf(Locale.ROOT, "  WAL now at %s, past the last synthetic position %s (%d segment switches needed)%n",
                    Position.formatLsn(currentWal(s)), Position.of(lsn, CHANGES_PER_TX - 1), switches);
        }
    }

    /** bench.accounts: created, filled by ordinary transactions, and captured by a real worker. */
    private void captureAccounts() throws SQLException {
        long started = System.nanoTime();
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA bench");
            s.execute("CREATE TABLE bench.accounts (id bigint PRIMARY KEY, owner text NOT NULL, email text NOT NULL,"
                    + " status text NOT NULL, balance numeric(12,2) NOT NULL, currency text NOT NULL,"
                    + " updated_at timestamptz NOT NULL, note text NOT NULL)");
        }
        worker = CaptureWorker.start(CaptureOptions.builder(url).include(List.of("bench.accounts"))
                .snapshot(SnapshotMode.NEVER).meterRegistry(new SimpleMeterRegistry()).build());
        try (Connection c = DriverManager.getConnection(url); PreparedStatement ps = c.prepareStatement(
                "INSERT INTO bench.accounts SELECT g, 'owner ' || g, 'owner' || g || '@example.com', 'active',"
                        + " (g % 100000) / 100.0, 'EUR', clock_timestamp(), 'account note ' || md5(g::text)"
                        + " FROM generate_series(?::bigint, ?::bigint) g")) {
            for (int from = 1; from <= ACCOUNTS; from += 1_000) {
                ps.setLong(1, from);
                ps.setLong(2, Math.min(ACCOUNTS, from + 999));
                ps.executeUpdate();
            }
        }
        worker.awaitCaughtUp(Duration.ofMinutes(5));
        out.printf(Locale.ROOT, "  bench.accounts: %,d rows inserted in 1,000-row transactions and captured in %.1f s%n",
                ACCOUNTS, (System.nanoTime() - started) / 1e9);
    }

    // ---------------------------------------------------------------------------------- (a) rows

    private void rowLatencies() {
        heading("(a) One row: history and as-of read");
        out.println("Load before: " + loadAverage());
        int samples = settings.samples;
        int warmup = settings.warmup;
        List<Key> keys = randomKeys(warmup + samples);
        Instant[] instants = new Instant[warmup + samples];
        long spanMillis = Duration.between(fillerStart, fillerEnd).toMillis();
        for (int i = 0; i < instants.length; i++) {
            instants[i] = fillerStart.plusMillis((long) (random.nextDouble() * spanMillis));
        }
        long[] changes = new long[2];
        Latencies history = measure("history(table, pk).list()", keys.size(), warmup, i -> {
            List<Change> list = trail.history(keys.get(i).table(), keys.get(i).pk()).list();
            changes[0] += list.size();
            changes[1]++;
        });
        report(history, String.format(Locale.ROOT, " (%.1f changes per row on average)", changes[0] / (double) changes[1]));
        verdict(history.median() < TARGET_ROW_MEDIAN_MS, String.format(Locale.ROOT,
                "a row's history: median %.2f ms < %.0f ms (p99 %.2f ms)", history.median(), TARGET_ROW_MEDIAN_MS, history.p99()));

        // The cut for an instant is resolved once by asOf(instant); row() then reads at that cut.
        List<AsOf> cuts = new ArrayList<>();
        Latencies resolve = measure("asOf(instant) (resolving the cut)", keys.size(), warmup,
                i -> cuts.add(trail.asOf(instants[i])));
        report(resolve, "");
        long[] found = new long[2];
        Latencies row = measure("asOf(instant).row(table, pk) on the resolved cut", keys.size(), warmup, i -> {
            // As many cuts as were resolved (fewer when resolving is slow), each used in turn.
            if (cuts.get(i % cuts.size()).row(keys.get(i).table(), keys.get(i).pk()).isPresent()) found[0]++;
            found[1]++;
        });
        report(row, String.format(Locale.ROOT, " (%d of %d rows existed at their instant)", found[0], found[1]));
        Latencies both = measure("trail.asOf(instant).row(table, pk), the whole call", keys.size(), warmup,
                i -> trail.asOf(instants[i]).row(keys.get(i).table(), keys.get(i).pk()));
        report(both, "");
        verdict(both.median() < TARGET_ROW_MEDIAN_MS, String.format(Locale.ROOT,
                "a row as of an instant: median %.2f ms < %.0f ms (p99 %.2f ms; of which the row read alone: median %.2f ms)",
                both.median(), TARGET_ROW_MEDIAN_MS, both.p99(), row.median()));

        // bench.accounts: captured after the synthetic history, so its log begins near the end of the change log.
        AsOf now = trail.asOf(Instant.now());
        int few = Math.min(200, samples);
        Latencies accountsHistory = measure("bench.accounts: history(table, pk).list()", few + 50, 50,
                i -> trail.history("bench.accounts", Map.of("id", 1 + random.nextInt(ACCOUNTS))).list());
        report(accountsHistory, "");
        Latencies accountsRow = measure("bench.accounts: asOf(now).row(table, pk)", few + 50, 50,
                i -> now.row("bench.accounts", Map.of("id", 1 + random.nextInt(ACCOUNTS))).orElseThrow());
        report(accountsRow, " (on a resolved cut)");

        // For comparison: a plain PGSimpleDataSource opens a connection (a server process) per call.
        PGSimpleDataSource plain = new PGSimpleDataSource();
        plain.setURL(url);
        AuditTrail unpooled = AuditTrail.of(plain);
        Latencies noPool = measure("history(table, pk).list() without a pool", few + 20, 20,
                i -> unpooled.history(keys.get(i % keys.size()).table(), keys.get(i % keys.size()).pk()).list());
        report(noPool, " (for comparison: a connection per call)");
        out.println("Load after: " + loadAverage());
    }

    // ---------------------------------------------------------------------------------- (b) tables

    private void tableAsOf() {
        heading("(b) A 100,000-row table as of an instant, streamed to the end");
        out.println("Load before: " + loadAverage());
        // Late in the synthetic history, so every row has all its changes up to the cut (resolving
        // the instant is then cheap too: see (a)).
        Instant late = fillerEnd.minusSeconds(1);
        double worstOrders = 0;
        for (Instant at : List.of(late)) {
            AsOf cut = trail.asOf(at);
            String what = "shop.orders as of " + at + " (" + changesOfOrdersUpTo(cut) + " changes of it up to the cut)";
            worstOrders = Math.max(worstOrders, streamTable(cut, "shop.orders", what));
        }
        AsOf now = trail.asOf(Instant.now());
        double accounts = streamTable(now, "bench.accounts", "bench.accounts as of now (captured, 1 change per row)");
        verdict(worstOrders < TARGET_TABLE_SECONDS, String.format(Locale.ROOT,
                "a 100,000-row table as of an instant: %.2f s < %.0f s (shop.orders, %.0f changes per row; slowest run)",
                worstOrders, TARGET_TABLE_SECONDS, (double) settings.changes / ROWS));
        summary.add(String.format(Locale.ROOT, "  bench.accounts as of now (100,000 rows, 1 change each): %.2f s (best run)", accounts));
        out.println("Load after: " + loadAverage());
    }

    private String changesOfOrdersUpTo(AsOf cut) {
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT count(*) FROM annals.changes WHERE \"schema\" = 'shop' AND \"table\" = 'orders' AND position <= ?")) {
            ps.setString(1, cut.position().orElseThrow().toString());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return String.format(Locale.ROOT, "%,d", rs.getLong(1));
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Streams the table {@value #TABLE_RUNS} times, prints each run; returns the slowest run in seconds. */
    private double streamTable(AsOf cut, String table, String what) {
        double slowest = 0;
        double best = Double.MAX_VALUE;
        List<String> runs = new ArrayList<>();
        long rows = 0;
        for (int run = 0; run < TABLE_RUNS; run++) {
            long started = System.nanoTime();
            long count = 0;
            long checksum = 0;
            try (Stream<JsonNode> stream = cut.table(table)) {
                for (JsonNode image : (Iterable<JsonNode>) stream::iterator) {
                    count++;
                    checksum += image.get("id").asLong();
                }
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            if (checksum <= 0) throw new IllegalStateException("No rows read from " + table);
            rows = count;
            runs.add(String.format(Locale.ROOT, "%.2f s", seconds));
            slowest = Math.max(slowest, seconds);
            best = Math.min(best, seconds);
        }
        String line = String.format(Locale.ROOT, "  %s: %,d rows; runs %s", what, rows, String.join(", ", runs));
        out.println(line);
        summary.add(line);
        return table.startsWith("shop.") ? slowest : best;
    }

    // ---------------------------------------------------------------------------------- (c) reverts

    private void reverts() throws SQLException {
        heading("(c) Reverting a transaction of 10,000 changes (plan + apply)");
        out.println("Load before: " + loadAverage());
        double worst = 0;
        double worstPlan = 0;
        double worstApply = 0;
        for (int run = 0; run < REVERT_RUNS; run++) {
            long first = 1 + (long) run * REVERT_ROWS;
            String before = checksum();
            Instant start = Instant.now();
            long xid = updateAccounts(first, first + REVERT_ROWS - 1);
            if (run == 0) {
                beforeUpdate = start;
                afterUpdate = Instant.now();
            }
            worker.awaitCaughtUp(Duration.ofMinutes(2));
            long t0 = System.nanoTime();
            RevertPlan plan = trail.revertTransaction(xid).plan();
            long t1 = System.nanoTime();
            if (plan.changes() != REVERT_ROWS || plan.steps().size() != REVERT_ROWS || !plan.conflicts().isEmpty()) {
                throw new IllegalStateException("Unexpected plan: " + plan.changes() + " changes, " + plan.steps().size()
                        + " steps, " + plan.conflicts().size() + " conflicts");
            }
            RevertPlan.Outcome outcome = plan.apply();
            long t2 = System.nanoTime();
            if (outcome.applied() != REVERT_ROWS) throw new IllegalStateException("Applied " + outcome.applied() + " steps");
            if (!checksum().equals(before)) {
                throw new IllegalStateException("bench.accounts differs from its state before transaction " + xid
                        + " after reverting it");
            }
            // The revert is itself captured; let it reach the log before the next run.
            worker.awaitCaughtUp(Duration.ofMinutes(2));
            double planS = (t1 - t0) / 1e9;
            double applyS = (t2 - t1) / 1e9;
            String line = String.format(Locale.ROOT, "  run %d: tx %d (%,d UPDATEs of rows %,d..%,d): plan %.2f s + apply %.2f s"
                    + " = %.2f s; table checked equal to its state before the transaction", run + 1, xid, REVERT_ROWS,
                    first, first + REVERT_ROWS - 1, planS, applyS, planS + applyS);
            out.println(line);
            summary.add(line);
            if (planS + applyS > worst) {
                worst = planS + applyS;
                worstPlan = planS;
                worstApply = applyS;
            }
        }
        verdict(worst < TARGET_REVERT_SECONDS, String.format(Locale.ROOT,
                "a revert of 10,000 changes: %.2f s < %.0f s (slowest run: plan %.2f s, apply %.2f s)", worst,
                TARGET_REVERT_SECONDS, worstPlan, worstApply));
        out.println("Load after: " + loadAverage());
    }

    private long updateAccounts(long from, long to) throws SQLException {
        try (Connection c = DriverManager.getConnection(url)) {
            c.setAutoCommit(false);
            long xid;
            try (PreparedStatement ps = c.prepareStatement("UPDATE bench.accounts SET balance = balance + 10,"
                    + " status = 'frozen', updated_at = clock_timestamp() WHERE id BETWEEN ? AND ?");
                 Statement s = c.createStatement()) {
                ps.setLong(1, from);
                ps.setLong(2, to);
                if (ps.executeUpdate() != to - from + 1) throw new IllegalStateException("Rows " + from + ".." + to + " missing");
                try (ResultSet rs = s.executeQuery("SELECT txid_current() & 4294967295")) {
                    rs.next();
                    xid = rs.getLong(1);
                }
            }
            c.commit();
            return xid;
        }
    }

    private String checksum() throws SQLException {
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT md5(string_agg(a::text, ',' ORDER BY id)) FROM bench.accounts a")) {
            rs.next();
            return rs.getString(1);
        }
    }

    // ---------------------------------------------------------------------------------- (d), (e)

    private void diffs() {
        heading("(d) Table diffs between two instants (for information)");
        out.println("Load before: " + loadAverage());
        // About a twentieth of a round of shop.orders' changes falls in this window.
        long rounds = Math.max(1, settings.changes / ROWS);
        Duration round = Duration.between(fillerStart, fillerEnd).dividedBy(rounds);
        Instant to = fillerEnd.minusSeconds(1);
        timeDiff("shop.orders", to.minus(round.dividedBy(20)), to);
        if (beforeUpdate != null) timeDiff("bench.accounts", beforeUpdate, afterUpdate); // instants from (c)
        out.println("Load after: " + loadAverage());
    }

    private void timeDiff(String table, Instant from, Instant to) {
        long started = System.nanoTime();
        Map<RowDiff.Kind, Long> kinds = new LinkedHashMap<>();
        try (Stream<RowDiff> diff = trail.diff(table, from, to)) {
            diff.forEach(d -> kinds.merge(d.kind(), 1L, Long::sum));
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        String line = String.format(Locale.ROOT, "  diff %s from %s to %s: %s in %.2f s", table, from, to, kinds, seconds);
        out.println(line);
        summary.add(line);
    }

    private void materialize() {
        heading("(e) Materialising a 100,000-row table into a schema (for information)");
        out.println("Load before: " + loadAverage());
        for (String table : List.of("shop.orders", "bench.accounts")) {
            Instant at = table.startsWith("shop.") ? fillerEnd.minusSeconds(1) : Instant.now();
            String schema = "asof_" + table.substring(table.indexOf('.') + 1);
            long started = System.nanoTime();
            Materialization.Result result = trail.asOf(at).materialize(table).replacingExisting().into(schema);
            double seconds = (System.nanoTime() - started) / 1e9;
            String line = String.format(Locale.ROOT, "  %s as of %s into schema %s: %,d rows in %.2f s%s", table, at, schema,
                    result.rows(), seconds, table.startsWith("shop.")
                            ? " (not in the catalog: column types inferred from the images)" : " (CREATE TABLE ... LIKE)");
            out.println(line);
            summary.add(line);
        }
        out.println("Load after: " + loadAverage());
    }

    // ---------------------------------------------------------------------------------- (f) keyframes

    /**
     * Keyframes: shop.orders as of the instant in the middle of the synthetic history, and as of
     * the worst instant (just before a keyframe, the most changes after the nearest one), read
     * without keyframes, then by the real keyframer's keyframes: streamed (warm, and cold right
     * after a server restart) and copied into a schema beside a plain CREATE TABLE AS copy of the
     * same rows. Each read with keyframes is checked against the read without them.
     */
    private void keyframes(EmbeddedPostgres.Builder builder) throws SQLException {
        heading("(f) Keyframes: a 100,000-row table as of any instant");
        out.println("Load before: " + loadAverage());
        Keyframes keyframes = trail.keyframes();
        keyframes.prune(0);
        Instant middle = fillerStart.plus(Duration.between(fillerStart, fillerEnd).dividedBy(2));
        AsOf atMiddle = trail.asOf(middle);
        final String what = "shop.orders as of the middle, " + middle + " (" + changesOfOrdersUpTo(atMiddle) + " changes of it up to the cut)";
        long[] reference = tableDigest(atMiddle, "shop.orders");
        double without = streamTable(atMiddle, "shop.orders", what + ", without keyframes");

        // The live table's shape, so that a copy takes the CREATE TABLE ... LIKE path as for a captured table.
        try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA IF NOT EXISTS shop");
            s.execute("DROP TABLE IF EXISTS shop.orders");
            s.execute("CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer_id bigint, status text, amount numeric,"
                    + " currency text, email text, note text, created_at timestamptz, updated_at timestamptz, version int)");
        }
        double copyWithout = timeCopy(atMiddle, "kf_without");

        long started = System.nanoTime();
        long changes;
        // A feed of its own each run: a reused log's earlier keyframer has read it all already.
        String feed = "bench-keyframes-" + System.currentTimeMillis();
        try (Keyframer keyframer = keyframes.keyframer().named(feed).everyChanges(settings.keyframeEvery)
                .changesPerRow(settings.keyframePerRow).keep(100_000)
                .batchSize(50_000).start()) {
            if (!keyframer.awaitCaughtUp(Duration.ofHours(2))) throw new IllegalStateException("The keyframer did not catch up");
            if (keyframer.failure().isPresent()) throw new IllegalStateException("The keyframer failed", keyframer.failure().get());
        }
        double keyframerSeconds = (System.nanoTime() - started) / 1e9;
        ChangeFeed.forget(ChangeLog.at(url), feed);
        try (Connection c = pool.getConnection(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM annals.changes")) {
            rs.next();
            changes = rs.getLong(1);
        }
        List<Keyframe> orders = keyframes.list("shop.orders");
        if (orders.isEmpty()) {
            throw new IllegalStateException("The keyframer wrote no keyframe of shop.orders: lower --keyframe-every or"
                    + " --keyframe-per-row (shop.orders has " + settings.changes / ROWS + " changes per row)");
        }
        long keyframeRows = keyframes.list().stream().mapToLong(Keyframe::rows).sum();
        String line = String.format(Locale.ROOT, "  keyframer (every %,d changes of a table, at least %s per row) over the %,d-change log: %.1f s"
                        + " (%,.0f changes/s); %,d keyframes, %,d of shop.orders; %,d keyframe rows written (%.1f%% of the log's rows);"
                        + " keyframe tables %s", settings.keyframeEvery, settings.keyframePerRow, changes, keyframerSeconds, changes / keyframerSeconds,
                keyframes.list().size(), orders.size(), keyframeRows, 100.0 * keyframeRows / changes, keyframeTablesSize());
        out.println(line);
        summary.add(line);
        // The worst cut: the last change before a keyframe of shop.orders (after the middle), so that the
        // most changes lie between it and the keyframe it starts from.
        Position middleCut = atMiddle.position().orElseThrow();
        Position worst = orders.stream().map(Keyframe::position).filter(p -> p.compareTo(middleCut) > 0)
                .findFirst().map(p -> Position.of(p.lsn(), 0)).orElse(middleCut);
        Position worstCut = Position.of(worst.lsn() - LSN_PER_TX, 0);

        restartServer(builder);
        atMiddle = trail.asOf(atMiddle.position().orElseThrow()); // on the new pool
        AsOf atWorst = trail.asOf(worstCut);
        long coldStarted = System.nanoTime();
        long[] cold = tableDigest(atMiddle, "shop.orders");
        double coldSeconds = (System.nanoTime() - coldStarted) / 1e9;
        if (!java.util.Arrays.equals(cold, reference)) {
            throw new IllegalStateException("shop.orders as of the middle differs with keyframes: " + java.util.Arrays.toString(cold)
                    + " rather than " + java.util.Arrays.toString(reference));
        }
        line = String.format(Locale.ROOT, "  shop.orders as of the middle with keyframes, cold (first read after a server"
                + " restart; the OS page cache stays warm): %.2f s", coldSeconds);
        out.println(line);
        summary.add(line);
        double warm = streamTable(atMiddle, "shop.orders", what + ", with keyframes, warm");
        double warmWorst = streamTable(atWorst, "shop.orders", "shop.orders as of " + atWorst.position().orElseThrow()
                + " (just before a keyframe: " + changesSinceKeyframe(atWorst) + " changes of it since the nearest one)"
                + ", with keyframes, warm");
        double copyWith = timeCopy(atMiddle, "kf_with");
        long plainStarted = System.nanoTime();
        try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
            s.execute("DROP SCHEMA IF EXISTS kf_plain CASCADE");
            s.execute("CREATE SCHEMA kf_plain");
            s.execute("CREATE TABLE kf_plain.orders AS TABLE kf_with.orders");
        }
        double plain = (System.nanoTime() - plainStarted) / 1e9;
        long differing;
        try (Connection c = pool.getConnection(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                "SELECT count(*) FROM ((TABLE kf_with.orders EXCEPT ALL TABLE kf_without.orders)"
                        + " UNION ALL (TABLE kf_without.orders EXCEPT ALL TABLE kf_with.orders)) x")) {
            rs.next();
            differing = rs.getLong(1);
        }
        if (differing != 0) throw new IllegalStateException(differing + " rows of the as-of copy differ with keyframes");
        line = String.format(Locale.ROOT, "  as-of copy into a schema (materialize(\"shop.orders\").into(...), what 'annals as-of"
                        + " --into' runs): %.2f s without keyframes, %.2f s with; a plain CREATE TABLE AS copy of the same"
                        + " 100,000 rows: %.2f s; ratio with keyframes %.1fx (without %.1fx)", copyWithout, copyWith, plain,
                copyWith / plain, copyWithout / plain);
        out.println(line);
        summary.add(line);
        double slowest = Math.max(warm, warmWorst);
        verdict(slowest < TARGET_KEYFRAME_TABLE_SECONDS, String.format(Locale.ROOT,
                "a 100,000-row table as of any instant with keyframes, warm: %.2f s < %.0f s (slowest of the middle and"
                        + " the worst cut; %.2f s without keyframes; cold %.2f s)", slowest, TARGET_KEYFRAME_TABLE_SECONDS,
                without, coldSeconds));
        verdict(copyWith < STRETCH_COPY_RATIO * plain, String.format(Locale.ROOT,
                "stretch: an as-of copy within %.0fx of a plain copy: %.2f s = %.1fx of %.2f s",
                STRETCH_COPY_RATIO, copyWith, copyWith / plain, plain));
        try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
            // (e) and later runs with --reuse read shop.orders as a table that is not in the catalog, without keyframes.
            s.execute("DROP TABLE shop.orders");
            s.execute("DROP SCHEMA kf_plain CASCADE");
            s.execute("DROP SCHEMA kf_with CASCADE");
            s.execute("DROP SCHEMA kf_without CASCADE");
        }
        trail.keyframes().prune(0);
        out.println("Load after: " + loadAverage());
    }

    /** The number of rows of {@code table} at {@code cut} and a digest of their images (order-sensitive). */
    private static long[] tableDigest(AsOf cut, String table) {
        long count = 0;
        long digest = 17;
        try (Stream<JsonNode> stream = cut.table(table)) {
            for (JsonNode image : (Iterable<JsonNode>) stream::iterator) {
                count++;
                digest = digest * 31 + image.toString().hashCode();
            }
        }
        return new long[] {count, digest};
    }

    /** Materialises shop.orders at {@code cut} into {@code schema}; returns the seconds it took. */
    private double timeCopy(AsOf cut, String schema) {
        long started = System.nanoTime();
        Materialization.Result result = cut.materialize("shop.orders").replacingExisting().into(schema);
        double seconds = (System.nanoTime() - started) / 1e9;
        if (result.rows() == 0) throw new IllegalStateException("No rows copied into " + schema);
        return seconds;
    }

    private String changesSinceKeyframe(AsOf cut) {
        Position at = cut.position().orElseThrow();
        Position nearest = trail.keyframes().list("shop.orders").stream().map(Keyframe::position)
                .filter(p -> p.compareTo(at) <= 0).reduce((a, b) -> b).orElse(Position.of(0, 0));
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT count(*) FROM annals.changes WHERE \"schema\" = 'shop' AND \"table\" = 'orders' AND position <= ?"
                        + " AND position > ?")) {
            ps.setString(1, at.toString());
            ps.setString(2, nearest.toString());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return String.format(Locale.ROOT, "%,d", rs.getLong(1));
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private String keyframeTablesSize() throws SQLException {
        try (Connection c = pool.getConnection(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                "SELECT pg_size_pretty(pg_total_relation_size('annals.keyframe_rows') + pg_total_relation_size('annals.keyframes'))")) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** Stops and starts the server (its shared buffers then hold nothing), with a new pool and trail. */
    private void restartServer(EmbeddedPostgres.Builder builder) {
        if (worker != null) {
            worker.close();
            worker = null;
        }
        pool.close();
        pg.stop();
        pg = builder.start();
        url = pg.jdbcUrl("bench"); // a new port
        pool = pool(url);
        trail = AuditTrail.of(pool);
        worker = CaptureWorker.start(CaptureOptions.builder(url).include(List.of("bench.accounts"))
                .snapshot(SnapshotMode.NEVER).meterRegistry(new SimpleMeterRegistry()).build());
    }

    // ---------------------------------------------------------------------------------- plans

    /**
     * Runs each measured call once more through connections that load auto_explain, and prints the
     * plan of every statement the call ran, as the server logged it.
     */
    private void explain() throws SQLException, IOException {
        heading("Query plans (auto_explain: ANALYZE, BUFFERS) of each call, every statement it ran");
        // A transaction for the revert plan, captured, then capture stops: its own queries would
        // otherwise not be in the log, but the log would be busier.
        long xid = updateAccounts(50_001, 50_000 + REVERT_ROWS);
        worker.awaitCaughtUp(Duration.ofMinutes(2));
        worker.close();
        worker = null;
        PGSimpleDataSource explaining = new PGSimpleDataSource();
        explaining.setURL(url);
        explaining.setOptions("-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0"
                + " -c auto_explain.log_analyze=on -c auto_explain.log_buffers=on -c auto_explain.log_timing=on");
        AuditTrail explained = AuditTrail.of(explaining);
        Key key = new Key("shop.orders", Map.of("id", 4242));
        // A tenth of the log from its end: resolving an instant costs in proportion to the changes after it.
        Instant middle = fillerEnd.minus(Duration.between(fillerStart, fillerEnd).dividedBy(10));
        // Each once beforehand so that the table checks, cached by the trail, do not clutter the plans.
        explained.history(key.table(), key.pk()).list();
        explained.history("bench.accounts", Map.of("id", 1)).list();
        explainCall("trail.history(\"shop.orders\", {id: 4242}).list()", () -> explained.history(key.table(), key.pk()).list());
        explainCall("trail.history(\"bench.accounts\", {id: 4242}).list()",
                () -> explained.history("bench.accounts", Map.of("id", 4242)).list());
        AsOf cut = explainCall("trail.asOf(" + middle + ")", () -> explained.asOf(middle));
        explainCall("asOf(" + middle + ").row(\"shop.orders\", {id: 4242})", () -> cut.row(key.table(), key.pk()));
        AsOf now = explained.asOf(trail.asOf(Instant.now()).position().orElseThrow());
        explainCall("asOf(" + now.position().orElseThrow() + ").row(\"bench.accounts\", {id: 4242}) (a position cut)",
                () -> now.row("bench.accounts", Map.of("id", 4242)));
        explainCall("asOf(" + fillerEnd.minusSeconds(1) + ").table(\"shop.orders\"), streamed to the end", () -> {
            AsOf late = trail.asOf(fillerEnd.minusSeconds(1)); // resolved without auto_explain: shown above
            try (Stream<JsonNode> rows = explained.asOf(late.position().orElseThrow()).table("shop.orders")) {
                return rows.count();
            }
        });
        explainCall("trail.revertTransaction(" + xid + ").plan() (10,000 UPDATEs; planned, not applied)",
                () -> explained.revertTransaction(xid).plan().changes());
    }

    private <T> T explainCall(String call, Supplier<T> action) throws IOException {
        long offset = Files.size(serverLog);
        T result = action.get();
        // The server writes the log line when the statement ends; give the write a moment.
        try {
            Thread.sleep(300);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        out.println();
        out.println("### " + call);
        int statements = 0;
        List<String> lines;
        try (var in = Files.newInputStream(serverLog)) {
            in.skipNBytes(offset);
            lines = Arrays.asList(new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n"));
        }
        boolean inPlan = false;
        for (String line : lines) {
            int at = line.indexOf("LOG:  duration: ");
            if (at >= 0 && line.endsWith("plan:")) {
                statements++;
                out.println();
                out.println(line.substring(at + 6));
                inPlan = true;
            } else if (inPlan && line.startsWith("\t")) {
                out.println("  " + line.substring(1));
            } else {
                inPlan = false;
            }
        }
        out.println("(" + statements + " statements)");
        return result;
    }

    // ---------------------------------------------------------------------------------- helpers

    record Key(String table, Map<String, Object> pk) {
    }

    /** Random rows of the synthetic tables, uniform over all 500,000 (so a fifth are in shop.orders). */
    private List<Key> randomKeys(int count) {
        List<Key> keys = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int r = random.nextInt(ROWS);
            int table = r < ORDERS_ROWS ? 0 : 1 + (r - ORDERS_ROWS) % OTHER_TABLES;
            long id = r < ORDERS_ROWS ? r + 1 : (r - ORDERS_ROWS) / OTHER_TABLES + 1;
            keys.add(new Key("shop." + TABLES[table], Map.of("id", id)));
        }
        return keys;
    }

    @FunctionalInterface
    interface Call {
        void run(int i) throws Exception;
    }

    /** Latencies in milliseconds of {@code count - warmup} calls, after {@code warmup} calls not counted. */
    record Latencies(String what, double[] millis) {
        double percentile(double p) {
            double[] sorted = millis.clone();
            Arrays.sort(sorted);
            int i = (int) Math.ceil(p / 100 * sorted.length) - 1;
            return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
        }

        double median() {
            return percentile(50);
        }

        double p99() {
            return percentile(99);
        }
    }

    /**
     * Times {@code count - warmup} calls after {@code warmup} uncounted ones. A call that takes more
     * than {@value #SLOW_CALL_MS} ms (twice in a row: the first call of a series may be slow alone, on
     * a cold cache) is measured over its first
     * {@value #SLOW_CALLS} calls only, none left out (said in the report), so that a
     * slow path cannot stall the run: seconds per call are far off any target, however many samples.
     */
    private Latencies measure(String what, int count, int warmup, Call call) {
        List<Double> millis = new ArrayList<>();
        List<Double> all = new ArrayList<>();
        int total = count;
        int skip = warmup;
        for (int i = 0; i < total; i++) {
            long started = System.nanoTime();
            try {
                call.run(i);
            } catch (Exception e) {
                throw new IllegalStateException(what + " failed: " + e.getMessage(), e);
            }
            double ms = (System.nanoTime() - started) / 1e6;
            all.add(ms);
            if (i >= skip && millis != all) millis.add(ms);
            if (i == 1 && all.get(0) > SLOW_CALL_MS && all.get(1) > SLOW_CALL_MS && total > SLOW_CALLS) {
                out.printf(Locale.ROOT, "  (%s takes over %d ms a call: measuring its first %d calls only)%n", what,
                        SLOW_CALL_MS, SLOW_CALLS);
                total = SLOW_CALLS;
                skip = 0;
                millis = all;
            }
        }
        return new Latencies(what, millis.stream().mapToDouble(Double::doubleValue).toArray());
    }

    private void report(Latencies l, String note) {
        String line = String.format(Locale.ROOT, "  %-52s median %6.2f ms, p90 %6.2f ms, p99 %6.2f ms, max %7.2f ms over %,d calls%s",
                l.what(), l.median(), l.percentile(90), l.p99(), l.percentile(100), l.millis().length, note);
        out.println(line);
        summary.add(line);
    }

    private static HikariDataSource pool(String jdbcUrl) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(jdbcUrl);
        config.setMaximumPoolSize(4);
        config.setPoolName("annals-bench-history");
        return new HikariDataSource(config);
    }

    private void machineFacts() throws SQLException, IOException {
        String cpuModel = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse("unknown CPU");
        String memory = Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("MemTotal"))
                .map(l -> String.format(Locale.ROOT, "%.1f GiB RAM", Long.parseLong(l.replaceAll("\\D", "")) / 1048576.0))
                .findFirst().orElse("");
        summary.add(String.format(Locale.ROOT, "Machine        : %d cores (%s), %s; JVM %s %s", Runtime.getRuntime().availableProcessors(),
                cpuModel, memory, System.getProperty("java.vm.name"), System.getProperty("java.runtime.version")));
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            List<String> parts = new ArrayList<>();
            try (ResultSet rs = s.executeQuery("SELECT name, current_setting(name) FROM pg_settings WHERE name IN"
                    + " ('server_version', 'fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'work_mem',"
                    + " 'max_wal_size', 'effective_cache_size', 'random_page_cost') ORDER BY name")) {
                while (rs.next()) parts.add(rs.getString(1) + "=" + rs.getString(2));
            }
            summary.add("PostgreSQL     : embedded, same machine, loopback TCP; " + String.join(" ", parts));
        }
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static long currentWal(Statement s) throws SQLException {
        try (ResultSet rs = s.executeQuery("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private void verdict(boolean met, String what) {
        verdicts.add((met ? "MET    " : "MISSED ") + what);
    }

    private void printSummary() {
        out.println();
        heading("Summary");
        summary.forEach(out::println);
        out.println("Targets:");
        verdicts.forEach(v -> out.println("  " + v));
        out.println("=".repeat(100));
        out.flush();
    }

    private void heading(String title) {
        out.println();
        out.println("== " + title + " " + "=".repeat(Math.max(3, 96 - title.length())));
    }

    private static void deleteRecursively(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // A temp folder; the OS cleans it eventually.
        }
    }

    /** The command-line settings, which picocli fills in. */
    static final class Settings {

        @Option(names = "--changes", paramLabel = "N", defaultValue = "10000000", converter = AtLeastAllRows.class,
                description = "changes in the log (default ${DEFAULT-VALUE}; at least 500000, one per synthetic row)")
        long changes;

        @Option(names = "--samples", paramLabel = "N", defaultValue = "2000", converter = BenchmarkOptions.PositiveInt.class,
                description = "measured calls per latency series (default ${DEFAULT-VALUE})")
        int samples;

        @Option(names = "--warmup", paramLabel = "N", defaultValue = "500", converter = BenchmarkOptions.NonNegativeInt.class,
                description = "calls before each series, not counted (default ${DEFAULT-VALUE})")
        int warmup;

        @Option(names = "--only", paramLabel = "LETTERS", converter = Measurements.class,
                description = "run only these measurements, e.g. --only ab (the plans still follow unless --no-explain)")
        String only;

        @Option(names = "--no-explain", description = "skip the query plans")
        boolean noExplain;

        @Option(names = "--reuse", description = "measure the change log an earlier run loaded into --data-dir (same --changes)")
        boolean reuse;

        @Mixin
        BenchmarkOptions.DataDir cluster;

        @Mixin
        BenchmarkOptions.Pg pg;

        @Option(names = "--keyframe-every", paramLabel = "N", defaultValue = "200000",
                converter = BenchmarkOptions.PositiveInt.class,
                description = "(f): the keyframer writes a keyframe of a table after every N changes of it (default ${DEFAULT-VALUE})")
        int keyframeEvery;

        @Option(names = "--keyframe-per-row", paramLabel = "F", defaultValue = "4",
                description = "(f): and at least F changes per row of the table (default ${DEFAULT-VALUE}; 0: none)")
        double keyframePerRow;

        /** Whether measurement {@code phase} (a to f) runs. */
        boolean runs(String phase) {
            return only == null || only.contains(phase);
        }
    }

    /** A change log smaller than the synthetic rows would leave some of them without a change. */
    static final class AtLeastAllRows implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return BenchmarkOptions.number(value, ROWS);
        }
    }

    /** Letters a to f, each naming a measurement. */
    static final class Measurements implements ITypeConverter<String> {
        @Override
        public String convert(String value) {
            if (!value.matches("[a-f]+")) throw new TypeConversionException("takes letters a to f, e.g. --only ab, not '" + value + "'");
            return value;
        }
    }
}
