package io.annals.benchmark;

import io.annals.embedded.EmbeddedPostgres;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What capture costs the application's write path ({@code annals-benchmark/run writepath}), against
 * a plain server and a generic audit trigger, measured with pgbench's TPC-B-like load on an
 * embedded PostgreSQL (18 unless {@code --postgres-binaries} names another; durable settings) in
 * six setups, in rotating order over the rounds of one run:
 * <ol>
 *   <li><b>plain</b>: nothing recorded;</li>
 *   <li><b>capture</b>: a capture worker in a JVM of its own ({@link CaptureProcess}, as
 *       {@code annals run} would be) with the change log in the source database;</li>
 *   <li><b>capture + context</b>: the same, each transaction also emitting a context message;</li>
 *   <li><b>trigger</b>: a generic row trigger on the four pgbench tables writing
 *       {@code to_jsonb(OLD)}/{@code to_jsonb(NEW)} to an audit table;</li>
 *   <li><b>capture, log elsewhere</b>: the change log on a second embedded server, so that
 *       everything the source server does (all its processes) is measured apart from the log's.</li>
 *   <li><b>pg_recvlogical</b>: PostgreSQL's own logical-replication client on a slot of its own,
 *       streaming the same tables to /dev/null with capture's plugin options. It stores nothing, so
 *       what it costs the source (its walsender, and the application's backends beside it) is the
 *       floor of any capture that reads the WAL; skipped when no pg_recvlogical is found.</li>
 * </ol>
 * With {@code --linger MS}, two more: capture and capture with the log elsewhere, each with that
 * {@code CaptureOptions.linger}, in the same rotation, so that the default and the linger are
 * compared under the same drift of the machine's speed.
 *
 * <p>For each setup: TPS and its ratio to plain, and CPU seconds per 1,000 transactions of each
 * process group: the application's backends (pgbench's connections), the walsender, the capture
 * JVM (the worker's process; pg_recvlogical's process in its setup), the change log's backends
 * (the worker's connections), the rest of each server, and the pgbench client. Each worker runs
 * under the setup's load for 5 s before its window opens, so that its JIT warm-up is not counted
 * (a worker that runs for days has long finished it). The CPU window
 * runs from pgbench's start until capture has stored everything committed (it waits for the
 * worker to catch up), so capture's whole catch-up counts. Backends that exit (pgbench's, at its
 * end) are sampled every 250 ms while they live; the CPU of their last moments is read from the
 * postmaster's reaped-children counters and charged to the application's backends.
 */
@Command(name = "writepath", usageHelpWidth = 100,
        description = {"The application's cost of capture: pgbench TPC-B-like on plain / capture / capture + context /",
                "audit trigger / capture with the change log on another server / pg_recvlogical (the floor), rotating order,",
                "CPU per process group."})
final class WritePathBenchmark implements Callable<Integer> {

    @Option(names = "--seconds", paramLabel = "N", defaultValue = "30", converter = BenchmarkOptions.PositiveInt.class,
            description = "pgbench duration of each setup in each round (default ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--rounds", paramLabel = "N", defaultValue = "2", converter = BenchmarkOptions.PositiveInt.class,
            description = "Rounds; each runs every setup once, the order rotating by one (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--scale", paramLabel = "N", defaultValue = "10", converter = BenchmarkOptions.PositiveInt.class,
            description = "pgbench scale factor (default ${DEFAULT-VALUE}).")
    int scale;

    @Option(names = "--clients", paramLabel = "N", defaultValue = "4", converter = BenchmarkOptions.PositiveInt.class,
            description = "pgbench clients, -c (default ${DEFAULT-VALUE}).")
    int clients;

    @Option(names = "--jobs", paramLabel = "N", defaultValue = "2", converter = BenchmarkOptions.PositiveInt.class,
            description = "pgbench threads, -j (default ${DEFAULT-VALUE}).")
    int jobs;

    @Option(names = "--linger", paramLabel = "MS", defaultValue = "0", converter = BenchmarkOptions.NonNegativeInt.class,
            description = "also measure capture (co-located and log elsewhere) with this linger in milliseconds, how long a"
                    + " batch gathers at least (CaptureOptions.linger), beside the default of none: two more setups in the"
                    + " rotation (default ${DEFAULT-VALUE}: not measured).")
    int lingerMillis;

    @Mixin
    private BenchmarkOptions.RecvLogical recvLogicalOption;

    @Option(names = "--pgbench", paramLabel = "PATH", defaultValue = "pgbench",
            description = "the pgbench program, any version from 10 on (default: ${DEFAULT-VALUE} on the PATH).")
    String pgbench;

    @Mixin
    private BenchmarkOptions.Pg pgSettings;

    @Mixin
    private BenchmarkOptions.Help help;

    static final double TARGET_REMOTE_SOURCE_CPU = 1.1;
    private static final int WARM_UP_SECONDS = 5;
    private static final String DATABASE = "bench_writepath";
    private static final String LOG_DATABASE = "annals_log";
    private static final String MONITOR = "bench-monitor";
    /** The publication pg_recvlogical reads: the tables capture captures. */
    private static final String RECV_PUBLICATION = "bench_recvlogical";
    private static final String[] TABLES = {"pgbench_accounts", "pgbench_tellers", "pgbench_branches", "pgbench_history"};
    private static final Pattern PROCESSED = Pattern.compile("number of transactions actually processed: (\\d+)");
    private static final Pattern TPS = Pattern.compile("tps = ([0-9.]+) \\(without initial connection time\\)");

    private enum Setup {
        PLAIN("plain"), CAPTURE("capture"), CONTEXT("capture + context"), TRIGGER("trigger"), REMOTE("capture, log elsewhere"),
        RECVLOGICAL("pg_recvlogical"), LINGER("capture, linger"), REMOTE_LINGER("log elsewhere, linger");

        final String label;

        Setup(String label) {
            this.label = label;
        }

        boolean captures() {
            return this != PLAIN && this != TRIGGER && this != RECVLOGICAL;
        }

        boolean remote() {
            return this == REMOTE || this == REMOTE_LINGER;
        }

        boolean lingers() {
            return this == LINGER || this == REMOTE_LINGER;
        }
    }

    /** CPU seconds by group, and what pgbench did, summed over a setup's runs. */
    private static final class Tally {
        long transactions;
        double seconds;
        long changes;
        final Map<String, Double> cpu = new LinkedHashMap<>();

        void add(String group, double s) {
            cpu.merge(group, s, Double::sum);
        }

        double get(String group) {
            return cpu.getOrDefault(group, 0.0);
        }

        double perThousand(String group) {
            return transactions == 0 ? 0 : get(group) / (transactions / 1000.0);
        }

        double tps() {
            return transactions / seconds;
        }
    }

    // Process groups.
    static final String APP = "app backends";
    static final String WALSENDER = "walsender";
    static final String CAPTURE_JVM = "capture JVM";
    static final String LOG_BACKENDS = "change-log backends";
    static final String CAPTURE_SOURCE = "capture's source backends";
    static final String SOURCE_OTHER = "source server other";
    static final String LOG_OTHER = "log server other";
    static final String CLIENT = "pgbench client";
    static final String MACHINE_OTHER = "other processes";
    static final String BENCHMARK_JVM = "benchmark JVM";
    /** Source-server processes that exited in the window, the part of their CPU no sample saw. */
    static final String EXITED = "exited, unsampled";
    /** The whole machine's busy CPU in the window, whatever used it: the total the groups should add up to. */
    static final String MACHINE_BUSY = "machine busy";

    private EmbeddedPostgres source;
    private EmbeddedPostgres logServer;
    private String url;
    private String logUrl;
    private Path contextScript;
    private final Map<Setup, Tally> tallies = new LinkedHashMap<>();
    /** The pg_recvlogical of the floor setup, or null to leave that setup out. */
    private String recvLogical;
    private int protocolVersion;
    private int captures;

    private WritePathBenchmark() {
    }

    @Override
    public Integer call() throws Exception {
        List<String> summary = new ArrayList<>();
        String command = "annals-benchmark/run writepath --seconds " + seconds + " --rounds " + rounds + " --scale " + scale
                + " --clients " + clients + " --jobs " + jobs + " --linger " + lingerMillis + pgSettings.overrides.stream().map(s -> " --pg " + s).reduce("", String::concat)
                + (pgSettings.binaries == null ? "" : " --postgres-binaries " + pgSettings.binaries)
                + (recvLogicalOption.skip ? " --no-recvlogical" : recvLogicalOption.path == null ? "" : " --recvlogical " + recvLogicalOption.path);
        summary.add("Command   : " + command);
        summary.add("Load avg  : " + BenchmarkSupport.loadAverage() + " (before)");
        String version = run(List.of(pgbench, "--version")).strip();
        recvLogical = recvLogicalOption.find(System.out);
        Path base = Files.createTempDirectory("annals-bench-writepath");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        EmbeddedPostgres.Builder sourceBuilder = pgSettings.builder(base.resolve("source"));
        EmbeddedPostgres.Builder logBuilder = pgSettings.builder(base.resolve("log"));
        try (EmbeddedPostgres s = sourceBuilder.start(); EmbeddedPostgres l = logBuilder.start()) {
            source = s;
            logServer = l;
            source.createDatabase(DATABASE);
            logServer.createDatabase(LOG_DATABASE);
            url = source.jdbcUrl(DATABASE);
            logUrl = logServer.jdbcUrl(LOG_DATABASE);
            summary.add("Server    : " + BenchmarkSupport.settings(url) + " (the change log's server alike)");
            summary.add("Machine   : " + Runtime.getRuntime().availableProcessors() + " cores, JVM "
                    + System.getProperty("java.runtime.version") + ", " + version
                    + (recvLogical == null ? "" : ", " + BenchmarkSupport.version(recvLogical) + " (" + recvLogical + ")"));
            try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT current_setting('server_version_num')::int")) {
                rs.next();
                protocolVersion = BenchmarkSupport.protocolVersion(rs.getInt(1));
            }
            prepare();
            System.out.println("Warming up: plain, 5 s");
            pgbench(Setup.PLAIN, 5);
            List<Setup> order = java.util.Arrays.stream(Setup.values()).filter(x -> lingerMillis > 0 || !x.lingers())
                    .filter(x -> x != Setup.RECVLOGICAL || recvLogical != null).toList();
            for (Setup setup : order) {
                tallies.put(setup, new Tally());
            }
            for (int round = 0; round < rounds; round++) {
                for (int k = 0; k < order.size(); k++) {
                    Setup setup = order.get((round + k) % order.size());
                    measure(round + 1, setup);
                }
            }
        } finally {
            BenchmarkSupport.deleteRecursively(base);
        }
        summary.add("Load avg  : " + BenchmarkSupport.loadAverage() + " (after)");
        report(summary);
        System.out.println();
        System.out.println("=== Annals write-path benchmark (pgbench TPC-B-like, " + clients + " clients, " + jobs + " threads, scale "
                + scale + ", " + seconds + " s per setup per round, " + rounds + " rounds) ===");
        summary.forEach(System.out::println);
        return 0;
    }

    private void prepare() throws Exception {
        System.out.println("pgbench -i -s " + scale + " ...");
        run(pgbenchCommand("-i", "-q", "-s", String.valueOf(scale)));
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE audit_log (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(),"
                    + " table_name text NOT NULL, operation text NOT NULL, old_row jsonb, new_row jsonb)");
            s.execute("CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                    + " INSERT INTO audit_log (table_name, operation, old_row, new_row) VALUES (TG_TABLE_NAME, TG_OP,"
                    + " CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END, CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);"
                    + " RETURN NULL; END $$");
            s.execute("CREATE PUBLICATION " + RECV_PUBLICATION + " FOR TABLE " + String.join(", ", TABLES));
            s.execute("VACUUM ANALYZE");
        }
        // TPC-B-like as pgbench has it built in, plus the context message an application would send first.
        contextScript = Files.createTempFile("annals-writepath", ".sql");
        Files.writeString(contextScript, """
                \\set aid random(1, 100000 * :scale)
                \\set bid random(1, 1 * :scale)
                \\set tid random(1, 10 * :scale)
                \\set delta random(-5000, 5000)
                BEGIN;
                SELECT pg_logical_emit_message(true, 'annals', '{"user_id": ' || :aid || ', "endpoint": "/transfer", "request_id": "r-' || :tid || '-' || :delta || '"}');
                UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
                SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
                UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
                UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
                INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
                END;
                """);
        contextScript.toFile().deleteOnExit();
    }

    private void measure(int round, Setup setup) throws Exception {
        System.out.printf(Locale.ROOT, "Round %d: %s, %d s%n", round, setup.label, seconds);
        Capture capture = null;
        Process reference = null;
        Path referenceLog = null;
        boolean referenceSlot = false;
        // A fresh slot each time: between runs no slot holds WAL back, nor is dropped under a worker's feet.
        String slot = "bench_writepath_" + (++captures);
        String logDatabaseUrl = setup.remote() ? logUrl : url;
        if (setup == Setup.TRIGGER) {
            execute(url, "CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION audit_row()");
        }
        try {
            if (setup.captures()) {
                capture = new Capture(url, logDatabaseUrl, slot, setup.lingers() ? lingerMillis : 0);
                // A fresh JVM compiles its hot code first; a running worker would have done so long ago.
                pgbench(setup, WARM_UP_SECONDS);
                capture.awaitCaughtUp();
            } else if (setup == Setup.RECVLOGICAL) {
                try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
                    s.execute("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
                }
                referenceSlot = true;
                referenceLog = Files.createTempFile("annals-writepath-recvlogical", ".log");
                reference = startRecvLogical(slot, referenceLog);
                pgbench(setup, WARM_UP_SECONDS);
                awaitDecoded(reference, referenceLog, slot);
            }
            long changesBefore = setup.captures() ? changes(logDatabaseUrl) : 0;
            checkpoint(url);
            checkpoint(logUrl);
            Tally tally = tallies.get(setup);
            long consumer = capture != null ? capture.pid() : reference != null ? reference.pid() : -1;
            try (Sampler sampler = new Sampler(setup.remote(), consumer)) {
                long[] result = pgbench(setup, seconds);
                if (capture != null) {
                    // Everything committed is stored before the window closes: the whole catch-up counts.
                    capture.awaitCaughtUp();
                }
                if (reference != null) awaitDecoded(reference, referenceLog, slot);
                sampler.finish(tally);
                tally.transactions += result[0];
                tally.seconds += result[0] / (result[1] / 1000.0);
                if (setup.captures()) {
                    tally.changes += changes(logDatabaseUrl) - changesBefore;
                }
                System.out.printf(Locale.ROOT, "  %,d transactions, %,.0f tps%s%n", result[0], result[1] / 1000.0,
                        sampler.otherLine());
            }
        } finally {
            if (capture != null) {
                capture.close();
                BenchmarkSupport.dropSlot(url, slot);
            }
            if (reference != null) stop(reference);
            if (referenceSlot) BenchmarkSupport.dropSlot(url, slot);
            if (referenceLog != null) Files.deleteIfExists(referenceLog);
            if (setup == Setup.TRIGGER) {
                execute(url, "DROP TRIGGER audit ON %s");
            }
        }
    }

    /**
     * pg_recvlogical on {@code slot}, streaming the pgbench tables to /dev/null with capture's plugin
     * options, its output to {@code log}. It reports its position every second, as capture does, so
     * that the walsender's replies to it cost what they cost capture.
     */
    private Process startRecvLogical(String slot, Path log) throws IOException {
        return new ProcessBuilder(BenchmarkSupport.recvLogicalCommand(recvLogical, source.port(), DATABASE, slot,
                protocolVersion, RECV_PUBLICATION, "-s", "1"))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /**
     * Waits until pg_recvlogical's walsender has decoded the WAL written so far ({@code sent_lsn} is
     * the walsender's own read position), so that the window holds its whole cost, as it holds
     * capture's catch-up.
     */
    private void awaitDecoded(Process reference, Path log, String slot) throws Exception {
        long deadline = System.nanoTime() + 120_000_000_000L;
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            String end;
            try (ResultSet rs = s.executeQuery("SELECT pg_current_wal_lsn()")) {
                rs.next();
                end = rs.getString(1);
            }
            while (true) {
                if (!reference.isAlive()) {
                    throw new IllegalStateException(recvLogical + " exited with " + reference.exitValue() + " during the setup: "
                            + Files.readString(log).strip());
                }
                try (ResultSet rs = s.executeQuery("SELECT coalesce(bool_or(r.sent_lsn >= '" + end + "'::pg_lsn), false)"
                        + " FROM pg_stat_replication r JOIN pg_replication_slots p ON p.active_pid = r.pid"
                        + " WHERE p.slot_name = '" + slot + "'")) {
                    rs.next();
                    if (rs.getBoolean(1)) return;
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("pg_recvlogical did not reach " + end + " in 120 s: " + Files.readString(log).strip());
                }
                Thread.sleep(20);
            }
        }
    }

    private static void stop(Process process) throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor();
        }
    }

    /** A capture worker in its own JVM ({@link CaptureProcess}), as {@code annals run} would be. */
    private static final class Capture implements AutoCloseable {

        private final Process process;
        private final BufferedReader out;
        private final java.io.Writer in;

        Capture(String sourceUrl, String targetUrl, String slot, int lingerMillis) throws Exception {
            String java = ProcessHandle.current().info().command().orElse("java");
            String jar = Path.of(CaptureProcess.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
            process = new ProcessBuilder(java, "-cp", jar, CaptureProcess.class.getName(), sourceUrl, targetUrl, slot,
                    "public.pgbench_*", String.valueOf(lingerMillis)).redirectErrorStream(true).start();
            out = new BufferedReader(new java.io.InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            in = new java.io.OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            await(CaptureProcess.READY);
        }

        long pid() {
            return process.pid();
        }

        void awaitCaughtUp() throws IOException {
            in.write(CaptureProcess.SYNC + "\n");
            in.flush();
            await(CaptureProcess.CAUGHT_UP);
        }

        /** Reads the worker's output up to {@code token}, passing its warnings and errors on. */
        private void await(String token) throws IOException {
            String line;
            while ((line = out.readLine()) != null) {
                if (line.equals(token)) return;
                if (line.startsWith(CaptureProcess.BATCHES)) System.out.println("  capture: " + line.substring(CaptureProcess.BATCHES.length()).strip());
                if (line.contains("WARN") || line.contains("ERROR") || line.contains("Exception")) System.out.println("  capture: " + line);
            }
            throw new IllegalStateException("the capture process ended (exit code " + waitExit() + ") before saying '" + token + "'");
        }

        private int waitExit() {
            try {
                return process.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return -1;
            }
        }

        @Override
        public void close() throws java.io.IOException {
            in.close();
            try {
                if (!process.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
                    process.destroy();
                    process.waitFor();
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            } finally {
                out.close();
            }
        }
    }

    /** Returns {transactions, tps * 1000}. */
    private long[] pgbench(Setup setup, int duration) throws Exception {
        List<String> args = new ArrayList<>(List.of("-n", "-T", String.valueOf(duration), "-c", String.valueOf(clients),
                "-j", String.valueOf(jobs)));
        if (setup == Setup.CONTEXT) {
            args.addAll(List.of("-f", contextScript.toString()));
        } else {
            args.addAll(List.of("-b", "tpcb-like"));
        }
        String output = run(pgbenchCommand(args.toArray(String[]::new)));
        Matcher processed = PROCESSED.matcher(output);
        Matcher tps = TPS.matcher(output);
        if (!processed.find() || !tps.find()) {
            throw new IllegalStateException("pgbench printed no transaction count or tps:\n" + output);
        }
        return new long[]{Long.parseLong(processed.group(1)), Math.round(Double.parseDouble(tps.group(1)) * 1000)};
    }

    private List<String> pgbenchCommand(String... args) {
        List<String> command = new ArrayList<>(List.of(pgbench, "-h", "127.0.0.1", "-p", String.valueOf(source.port()), "-U", "postgres"));
        command.addAll(List.of(args));
        command.add(DATABASE);
        return command;
    }

    private static String run(List<String> command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int exit = process.waitFor();
        if (exit != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed with exit code " + exit + ":\n" + output);
        }
        return output;
    }

    private static void execute(String url, String perTable) throws SQLException {
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            for (String table : TABLES) {
                s.execute(String.format(Locale.ROOT, perTable, table));
            }
        }
    }

    private static void checkpoint(String url) throws SQLException {
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            s.execute("CHECKPOINT");
        }
    }

    /** Changes stored so far: a benchmark's check that capture caught up, not an application's read. */
    private static long changes(String url) throws SQLException {
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM annals.changes WHERE \"table\" LIKE 'pgbench%'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private void report(List<String> summary) {
        Tally plain = tallies.get(Setup.PLAIN);
        summary.add("CPU seconds per 1,000 transactions, by process group (whole window: pgbench run and capture catch-up):");
        summary.add(String.format(Locale.ROOT, "  %-24s %8s %6s %8s %8s %9s %8s %8s %8s | %8s %8s %8s %8s %8s %s", "setup", "tps",
                "ratio", "app", "exited", "walsender", "capture", "log bk", "sum", "src oth", "log oth", "pgbench", "machine",
                "busy", "changes"));
        for (Map.Entry<Setup, Tally> e : tallies.entrySet()) {
            Tally t = e.getValue();
            double logBackends = t.perThousand(LOG_BACKENDS) + t.perThousand(CAPTURE_SOURCE);
            double sum = t.perThousand(APP) + t.perThousand(EXITED) + t.perThousand(WALSENDER) + t.perThousand(CAPTURE_JVM)
                    + logBackends;
            summary.add(String.format(Locale.ROOT, "  %-24s %8.0f %6.3f %8.3f %8.3f %9.3f %8.3f %8.3f %8.3f | %8.3f %8.3f %8.3f %8.3f %8.3f %s",
                    e.getKey().label, t.tps(), t.tps() / plain.tps(), t.perThousand(APP), t.perThousand(EXITED),
                    t.perThousand(WALSENDER), t.perThousand(CAPTURE_JVM), logBackends, sum, t.perThousand(SOURCE_OTHER),
                    t.perThousand(LOG_OTHER), t.perThousand(CLIENT), t.perThousand(MACHINE_OTHER), t.perThousand(MACHINE_BUSY),
                    e.getKey().captures() ? String.format(Locale.ROOT, "%,d stored for %,d tx", t.changes, t.transactions) : ""));
        }
        summary.add("  (app: pgbench's backends; exited: the source server's processes that exited in the window, the CPU"
                + " no sample saw; capture: the worker's own JVM, or the pg_recvlogical process; log bk: the worker's connections;"
                + " with the change log elsewhere, its connections to the source for slot and heartbeats;"
                + " sum: those five; src/log oth: the servers' other processes; machine: CPU no process above used, e.g. other"
                + " work; busy: the whole machine's busy CPU, whatever used it)");
        summary.add(String.format(Locale.ROOT, "Machine   : busy CPU per 1,000 transactions, whole machine: capture %.3f, trigger %.3f,"
                        + " plain %.3f s (capture / trigger = %.2f)", tallies.get(Setup.CAPTURE).perThousand(MACHINE_BUSY),
                tallies.get(Setup.TRIGGER).perThousand(MACHINE_BUSY), plain.perThousand(MACHINE_BUSY),
                tallies.get(Setup.CAPTURE).perThousand(MACHINE_BUSY) / tallies.get(Setup.TRIGGER).perThousand(MACHINE_BUSY)));
        if (tallies.containsKey(Setup.RECVLOGICAL)) floor(summary, tallies.get(Setup.RECVLOGICAL));
        verdicts(summary, tallies.get(Setup.CAPTURE), tallies.get(Setup.REMOTE), "");
        if (tallies.containsKey(Setup.LINGER)) {
            verdicts(summary, tallies.get(Setup.LINGER), tallies.get(Setup.REMOTE_LINGER), " (linger " + lingerMillis + " ms)");
        }
        for (Setup setup : tallies.keySet()) {
            Tally t = tallies.get(setup);
            if (setup.captures() && t.changes < 4 * t.transactions) {
                summary.add(String.format(Locale.ROOT, "WARNING   : capture stored %,d changes for %,d transactions (4 each expected)",
                        t.changes, t.transactions));
            }
        }
    }

    /**
     * What a consumer that stores nothing costs: the floor under both targets, since capture reads
     * the same WAL through the same kind of walsender before it does anything of its own.
     */
    private void floor(List<String> summary, Tally recv) {
        Tally plain = tallies.get(Setup.PLAIN);
        double plainSource = sourceCpu(plain);
        double recvSource = sourceCpu(recv);
        String line = String.format(Locale.ROOT, "Floor     : pg_recvlogical (decodes, stores nothing): TPS %.3f of plain; source server's"
                        + " backends (app + exited) + walsender %.3f vs %.3f s per 1,000 = %.2fx plain (walsender %.3f); with its own"
                        + " process %.3f vs the trigger's %.3f", recv.tps() / plain.tps(), recvSource, plainSource,
                recvSource / plainSource, recv.perThousand(WALSENDER), total(recv), total(tallies.get(Setup.TRIGGER)));
        System.out.println(line);
        summary.add(line);
    }

    private static double sourceCpu(Tally t) {
        return t.perThousand(APP) + t.perThousand(EXITED) + t.perThousand(WALSENDER) + t.perThousand(CAPTURE_SOURCE);
    }

    /** The three targets, for capture (co-located and log elsewhere) with or without a linger. */
    private void verdicts(List<String> summary, Tally capture, Tally remote, String which) {
        Tally plain = tallies.get(Setup.PLAIN);
        Tally trigger = tallies.get(Setup.TRIGGER);
        double captureSum = total(capture);
        double triggerSum = total(trigger);
        summary.add(BenchmarkSupport.verdict(capture.tps() >= trigger.tps(), String.format(Locale.ROOT,
                "Target    : co-located capture%s costs the application no more TPS than the trigger: %.3f vs %.3f of plain",
                which, capture.tps() / plain.tps(), trigger.tps() / plain.tps())));
        summary.add(BenchmarkSupport.verdict(captureSum <= triggerSum, String.format(Locale.ROOT,
                "Target    : co-located capture%s uses no more CPU per transaction than the trigger (app + exited + walsender"
                        + " + capture + change-log backends + source server other): %.3f vs %.3f s per 1,000", which, captureSum,
                triggerSum)));
        double remoteSource = sourceCpu(remote);
        double plainSource = sourceCpu(plain);
        summary.add(BenchmarkSupport.verdict(remoteSource <= TARGET_REMOTE_SOURCE_CPU * plainSource, String.format(Locale.ROOT,
                "Target    : change log elsewhere%s, source server's backends (app + exited + capture's) + walsender <= %.1fx"
                        + " plain per transaction: %.3f vs %.3f"
                        + " s per 1,000 = %.2fx (whole source server: %.2fx)", which, TARGET_REMOTE_SOURCE_CPU, remoteSource, plainSource,
                remoteSource / plainSource, (remoteSource + remote.perThousand(SOURCE_OTHER)) / (plainSource + plain.perThousand(SOURCE_OTHER)))));
    }

    private static double total(Tally t) {
        return t.perThousand(APP) + t.perThousand(EXITED) + t.perThousand(WALSENDER) + t.perThousand(CAPTURE_JVM) + t.perThousand(LOG_BACKENDS)
                + t.perThousand(CAPTURE_SOURCE)
                + t.perThousand(SOURCE_OTHER);
    }

    /**
     * Samples both servers' processes and this JVM's threads every 250 ms from the start of a
     * window, remembering which backend belongs to whom from pg_stat_activity.
     */
    private final class Sampler implements AutoCloseable {

        private final CpuSampler sourceCpu = new CpuSampler(source.dataDirectory());
        private final CpuSampler logCpu = new CpuSampler(logServer.dataDirectory());
        private final Map<String, String> threads = Map.of("sampler", "bench-sampler", "main", "main");
        private final Connection sourceMonitor;
        private final Connection logMonitor;
        private final CpuSampler.Snapshot sourceFirst;
        private final CpuSampler.Snapshot logFirst;
        private final double reapedSourceFirst;
        private final double reapedLogFirst;
        private final double clientFirst;
        private final String sourceAnnals;
        private final long capturePid;
        private final double captureFirst;
        private double machineOther;
        private final Map<Long, Double> sourceLast = new HashMap<>();
        private final Map<Long, Double> logLast = new HashMap<>();
        private final Map<Long, String> sourceGroup = new HashMap<>();
        private final Map<Long, String> logGroup = new HashMap<>();
        private final Thread thread;
        private volatile boolean running = true;
        private CpuSampler.Usage usage;

        /**
         * @param logElsewhere whether the worker's connections to the source serve capture only, the log being elsewhere
         * @param consumerPid  the capture JVM's process, or pg_recvlogical's; -1 for none
         */
        Sampler(boolean logElsewhere, long consumerPid) throws SQLException {
            sourceAnnals = logElsewhere ? CAPTURE_SOURCE : LOG_BACKENDS;
            capturePid = consumerPid;
            captureFirst = capturePid < 0 ? 0 : processCpu(capturePid);
            sourceMonitor = DriverManager.getConnection(url + "&ApplicationName=" + MONITOR);
            logMonitor = DriverManager.getConnection(logUrl + "&ApplicationName=" + MONITOR);
            sourceFirst = sourceCpu.take(threads);
            logFirst = logCpu.take(Map.of());
            reapedSourceFirst = reaped(postmaster(source));
            reapedLogFirst = reaped(postmaster(logServer));
            // A process alive at the start that exits before the first sample still had its whole life
            // reaped: seeded here, what it had used by then comes off the reaped total too.
            sourceLast.putAll(sourceFirst.pgByPid());
            logLast.putAll(logFirst.pgByPid());
            clientFirst = reaped(ProcessHandle.current().pid());
            sample();
            thread = Thread.ofPlatform().name("bench-sampler").start(() -> {
                while (running) {
                    try {
                        Thread.sleep(250);
                        sample();
                    } catch (InterruptedException e) {
                        return;
                    } catch (SQLException | RuntimeException e) {
                        // A backend gone mid-query: the next sample sees the rest.
                    }
                }
            });
        }

        private synchronized void sample() throws SQLException {
            record(sourceCpu.take(Map.of()), sourceMonitor, sourceLast, sourceGroup);
            record(logCpu.take(Map.of()), logMonitor, logLast, logGroup);
        }

        private void record(CpuSampler.Snapshot snapshot, Connection monitor, Map<Long, Double> last, Map<Long, String> group)
                throws SQLException {
            last.putAll(snapshot.pgByPid());
            try (Statement s = monitor.createStatement();
                 ResultSet rs = s.executeQuery("SELECT pid, application_name, backend_type FROM pg_stat_activity")) {
                while (rs.next()) {
                    String type = rs.getString(3);
                    String app = rs.getString(2);
                    String g = "walsender".equals(type) ? WALSENDER
                            : !"client backend".equals(type) ? null
                            : "pgbench".equals(app) ? APP
                            : "annals".equals(app) ? LOG_BACKENDS
                            : MONITOR;
                    if (g != null) group.put(rs.getLong(1), g);
                }
            }
        }

        /**
         * Waits until the source server's processes of {@code group} (pgbench's backends, which exit as
         * the window closes) are gone from {@code /proc}, that is reaped. Otherwise one could be in the
         * end snapshot, charged to its group, and then reaped before the postmaster's counters are
         * read, and so be counted twice.
         */
        private void awaitExited(String group) throws InterruptedException {
            long deadline = System.nanoTime() + 10_000_000_000L;
            List<Long> pids;
            synchronized (this) {
                pids = sourceGroup.entrySet().stream().filter(e -> e.getValue().equals(group)).map(Map.Entry::getKey).toList();
            }
            for (long pid : pids) {
                while (Files.exists(Path.of("/proc/" + pid)) && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
            }
        }

        /** Closes the window and adds its CPU to {@code tally}. */
        void finish(Tally tally) throws Exception {
            running = false;
            thread.interrupt();
            thread.join();
            awaitExited(APP);
            CpuSampler.Snapshot sourceEnd = sourceCpu.take(threads);
            CpuSampler.Snapshot logEnd = logCpu.take(Map.of());
            synchronized (this) {
                sourceLast.putAll(sourceEnd.pgByPid());
                logLast.putAll(logEnd.pgByPid());
            }
            Tally window = new Tally();
            double reapedSource = reaped(postmaster(source)) - reapedSourceFirst;
            double reapedLog = reaped(postmaster(logServer)) - reapedLogFirst;
            window.add(CLIENT, reaped(ProcessHandle.current().pid()) - clientFirst);
            // The postmaster reaped the whole CPU of every process that exited; less what the samples
            // already saw of them, what is left is their last moments and processes too short-lived to
            // be sampled (autovacuum workers): a column of its own, counted in the source's total.
            double endedSource = charge(window, sourceFirst, sourceEnd, sourceLast, sourceGroup, SOURCE_OTHER, sourceAnnals);
            double endedLog = charge(window, logFirst, logEnd, logLast, logGroup, LOG_OTHER, LOG_BACKENDS);
            window.add(EXITED, Math.max(0, reapedSource - endedSource));
            window.add(LOG_OTHER, Math.max(0, reapedLog - endedLog));
            usage = CpuSampler.between(sourceFirst, sourceEnd);
            if (capturePid > 0) {
                window.add(CAPTURE_JVM, processCpu(capturePid) - captureFirst);
            }
            window.add(BENCHMARK_JVM, usage.jvm());
            double processes = window.cpu.values().stream().mapToDouble(Double::doubleValue).sum();
            if (usage.machineBusyCores() >= 0) {
                window.add(MACHINE_BUSY, usage.machineBusyCores() * usage.seconds());
                machineOther = Math.max(0, usage.machineBusyCores() * usage.seconds() - usage.irq() - processes);
                window.add(MACHINE_OTHER, machineOther);
            }
            window.cpu.forEach(tally::add);
        }

        /**
     * Adds each sampled process's CPU in the window to its group. Returns the whole-life CPU, as last
     * sampled, of those that exited: the postmaster reaped all of it, including what a process of the
     * previous setup used before this window began, so that is what must come off the reaped total.
     */
        private double charge(Tally tally, CpuSampler.Snapshot first, CpuSampler.Snapshot end, Map<Long, Double> last,
                              Map<Long, String> group, String other, String annals) {
            double ended = 0;
            for (Map.Entry<Long, Double> e : last.entrySet()) {
                double used = e.getValue() - first.pgByPid().getOrDefault(e.getKey(), 0.0);
                String g = group.getOrDefault(e.getKey(), other);
                tally.add(g.equals(MONITOR) ? other : g.equals(LOG_BACKENDS) ? annals : g, used);
                if (!end.pgByPid().containsKey(e.getKey())) ended += e.getValue();
            }
            return ended;
        }

        String otherLine() {
            return usage == null ? "" : String.format(Locale.ROOT, " (machine %.2f of %d cores busy; CPU of other processes %.1f s)",
                    usage.machineBusyCores(), usage.cores(), machineOther);
        }

        @Override
        public void close() throws SQLException {
            running = false;
            thread.interrupt();
            sourceMonitor.close();
            logMonitor.close();
        }
    }

    private static long postmaster(EmbeddedPostgres pg) {
        try {
            return Long.parseLong(Files.readAllLines(pg.dataDirectory().resolve("postmaster.pid")).get(0).trim());
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** CPU seconds of a live process (utime + stime). */
    private static double processCpu(long pid) {
        try {
            String s = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = s.substring(s.lastIndexOf(')') + 2).trim().split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** CPU seconds of a process's children that exited and were waited for (cutime + cstime). */
    private static double reaped(long pid) {
        try {
            String s = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = s.substring(s.lastIndexOf(')') + 2).trim().split(" ");
            return (Long.parseLong(f[13]) + Long.parseLong(f[14])) / 100.0;
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }
}
