package io.annals.benchmark;

import io.annals.context.AnnalsContext;
import io.annals.context.ContextDataSource;
import io.annals.context.ContextMessage;
import io.annals.embedded.EmbeddedPostgres;
import org.postgresql.ds.PGSimpleDataSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * What {@link ContextDataSource} costs an application's autocommit writes ({@code annals-benchmark/run
 * context}): one connection making single-row autocommit {@code UPDATE}s through a prepared
 * statement, as fast as it can, on an embedded PostgreSQL 18 with durable settings, in three
 * setups measured in rotating order in the same run:
 * <ol>
 *   <li><b>plain</b>: the driver's connection, no context;</li>
 *   <li><b>wrapped</b>: through {@code ContextDataSource}, each update under its own context (a
 *       request: user, endpoint, request id), so each carries a message;</li>
 *   <li><b>message ahead</b> (reference): what the wrapper did before it sent the message with the
 *       write: autocommit off, the message, the update, the commit (three round trips).</li>
 * </ol>
 * Target: wrapped at least 0.95 of plain.
 */
@Command(name = "context", usageHelpWidth = 100,
        description = "Autocommit single-row UPDATEs with and without ContextDataSource (a context per update), same run.")
@SuppressWarnings("try") // a context scope is held for its effect on the writes inside it
final class ContextWriteBenchmark implements Callable<Integer> {

    static final double TARGET_RATIO = 0.95;

    @Option(names = "--seconds", paramLabel = "N", defaultValue = "5", converter = BenchmarkOptions.PositiveInt.class,
            description = "Length of each measured round of each setup (default ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--rounds", paramLabel = "N", defaultValue = "4", converter = BenchmarkOptions.PositiveInt.class,
            description = "Rounds; each measures every setup once, the order rotating (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--rows", paramLabel = "N", defaultValue = "10000", converter = BenchmarkOptions.PositiveInt.class,
            description = "Rows in the updated table (default ${DEFAULT-VALUE}).")
    int rows;

    @Mixin
    private BenchmarkOptions.Pg pgSettings;

    @Mixin
    private BenchmarkOptions.Help help;

    /** One way of making an update. */
    private interface Setup {
        void update(long i) throws Exception;
    }

    private static final String UPDATE = "UPDATE account SET balance = balance + ? WHERE id = ?";

    private ContextWriteBenchmark() {
    }

    @Override
    public Integer call() throws Exception {
        List<String> summary = new ArrayList<>();
        summary.add("Command   : annals-benchmark/run context --seconds " + seconds + " --rounds " + rounds + " --rows " + rows
                + pgSettings.overrides.stream().map(s -> " --pg " + s).reduce("", String::concat));
        summary.add("Load avg  : " + BenchmarkSupport.loadAverage() + " (before)");
        Path base = Files.createTempDirectory("annals-bench-context");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        EmbeddedPostgres.Builder builder = pgSettings.builder(base.resolve("postgres"));
        try (EmbeddedPostgres pg = builder.start()) {
            pg.createDatabase("bench_context");
            String url = pg.jdbcUrl("bench_context");
            summary.add("Server    : " + BenchmarkSupport.settings(url));
            summary.add("Machine   : " + Runtime.getRuntime().availableProcessors() + " cores, JVM " + System.getProperty("java.runtime.version"));
            try (Connection c = pg.connect("bench_context"); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE account (id int PRIMARY KEY, balance bigint NOT NULL)");
                s.execute("INSERT INTO account SELECT g, 0 FROM generate_series(1, " + rows + ") g");
                s.execute("VACUUM ANALYZE account");
            }
            PGSimpleDataSource driver = new PGSimpleDataSource();
            driver.setURL(url);
            ContextDataSource wrapper = ContextDataSource.wrap(driver);
            try (Connection plainConnection = driver.getConnection(); Connection wrappedConnection = wrapper.getConnection();
                 Connection aheadConnection = driver.getConnection();
                 PreparedStatement plain = plainConnection.prepareStatement(UPDATE);
                 PreparedStatement wrapped = wrappedConnection.prepareStatement(UPDATE);
                 PreparedStatement ahead = aheadConnection.prepareStatement(UPDATE);
                 PreparedStatement emit = aheadConnection.prepareStatement("SELECT pg_logical_emit_message(true, ?::text, ?::text)");
                 Connection withConnection = driver.getConnection();
                 PreparedStatement with = withConnection.prepareStatement("SELECT pg_logical_emit_message(true, ?::text, ?::text);\n" + UPDATE)) {
                SplittableRandom random = new SplittableRandom(42);
                Map<String, Setup> setups = new LinkedHashMap<>();
                setups.put("plain", i -> update(plain, random));
                setups.put("wrapped", i -> {
                    try (AnnalsContext.Scope scope = AnnalsContext.with(request(i))) {
                        update(wrapped, random);
                    }
                });
                setups.put("driver, message with the write", i -> {
                    with.setString(1, ContextMessage.PREFIX);
                    with.setString(2, AnnalsContext.of(request(i)).toJson());
                    with.setLong(3, 1);
                    with.setInt(4, 1 + random.nextInt(rows));
                    with.execute();
                    with.getMoreResults();
                    if (with.getUpdateCount() != 1) {
                        throw new IllegalStateException("an UPDATE of one account changed no row");
                    }
                });
                setups.put("message ahead", i -> {
                    aheadConnection.setAutoCommit(false);
                    emit.setString(1, ContextMessage.PREFIX);
                    emit.setString(2, AnnalsContext.of(request(i)).toJson());
                    emit.execute();
                    update(ahead, random);
                    aheadConnection.commit();
                    aheadConnection.setAutoCommit(true);
                });
                List<String> names = new ArrayList<>(setups.keySet());
                Map<String, long[]> totals = new LinkedHashMap<>(); // updates, nanoseconds
                names.forEach(n -> totals.put(n, new long[2]));
                System.out.println("Warming up (5 s per setup)...");
                for (String name : names) {
                    run(setups.get(name), 5);
                }
                for (int round = 0; round < rounds; round++) {
                    StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "Round %d:", round + 1));
                    for (int k = 0; k < names.size(); k++) {
                        String name = names.get((round + k) % names.size());
                        long[] r = run(setups.get(name), seconds);
                        totals.get(name)[0] += r[0];
                        totals.get(name)[1] += r[1];
                        line.append(String.format(Locale.ROOT, "  %s %,.0f/s", name, r[0] / (r[1] / 1e9)));
                    }
                    System.out.println(line);
                }
                Map<String, Double> rates = new LinkedHashMap<>();
                totals.forEach((name, t) -> rates.put(name, t[0] / (t[1] / 1e9)));
                double plainRate = rates.get("plain");
                for (String name : names) {
                    long[] t = totals.get(name);
                    summary.add(String.format(Locale.ROOT, "%-31s: %,.0f updates/s, %.1f us each, %.3f of plain (%,d updates in %.1f s)",
                            name, rates.get(name), t[1] / 1e3 / t[0], rates.get(name) / plainRate, t[0], t[1] / 1e9));
                }
                summary.add(BenchmarkSupport.verdict(rates.get("wrapped") / plainRate >= TARGET_RATIO, String.format(Locale.ROOT,
                        "Target    : autocommit UPDATEs through ContextDataSource, a context each, at least %.2f of plain: %.3f",
                        TARGET_RATIO, rates.get("wrapped") / plainRate)));
            }
        } finally {
            BenchmarkSupport.deleteRecursively(base);
        }
        summary.add("Load avg  : " + BenchmarkSupport.loadAverage() + " (after)");
        System.out.println();
        System.out.println("=== ContextDataSource write cost (autocommit single-row UPDATEs, one connection) ===");
        summary.forEach(System.out::println);
        return 0;
    }

    private static Map<String, Object> request(long i) {
        return Map.of("user_id", 1000 + i % 97, "endpoint", "/accounts/credit", "request_id", "req-" + i);
    }

    private void update(PreparedStatement update, SplittableRandom random) throws Exception {
        update.setLong(1, 1);
        update.setInt(2, 1 + random.nextInt(rows));
        if (update.executeUpdate() != 1) {
            throw new IllegalStateException("an UPDATE of one account changed no row");
        }
    }

    /** Runs {@code setup} for about {@code seconds}; returns {updates, nanoseconds}. */
    private static long[] run(Setup setup, int seconds) throws Exception {
        long start = System.nanoTime();
        long end = start + seconds * 1_000_000_000L;
        long n = 0;
        long now;
        do {
            for (int k = 0; k < 50; k++) {
                setup.update(n++);
            }
            now = System.nanoTime();
        } while (now < end);
        return new long[]{n, now - start};
    }
}
