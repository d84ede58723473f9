package io.annals.benchmark;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeLogWriter;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.embedded.EmbeddedPostgres;
import io.annals.replication.Broker;
import io.annals.replication.CqrsEntity;
import io.annals.replication.CqrsMaster;
import io.annals.replication.CqrsReplica;
import io.annals.replication.JdbcDataSource;
import io.annals.replication.ReplicaTable;
import io.annals.replication.wire.CqrsTopology;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.locks.LockSupport;

/**
 * The CQRS replication benchmark ({@code annals-benchmark/run cqrs}), on one embedded PostgreSQL 18
 * and the machine's RabbitMQ, for the targets of the replication issue:
 * <ol>
 *   <li>the master publishing a backlog of {@code --changes} from the change log, with publisher
 *       confirms and persistent messages into a durable queue (target at least 20,000 messages/s);</li>
 *   <li>a replica applying that queue to PostgreSQL with {@code --workers}, in batches of the
 *       messages waiting for each worker (target at least 10,000 messages/s);</li>
 *   <li>commit at the source to the replica's row, with capture, master and replica running, at
 *       {@code --rate} one-row transactions per second for {@code --seconds} (target p99 under
 *       150 ms), measured in the replica as the row's insert time minus its {@code cqrs_updated};</li>
 *   <li>dump and load of {@code --dump-rows} rows.</li>
 * </ol>
 */
@Command(name = "cqrs", usageHelpWidth = 100,
        description = "CQRS replication: master publish rate, replica apply rate, commit-to-replica latency, dump and load.")
final class ReplicationBenchmark implements Callable<Integer> {

    @Option(names = "--changes", paramLabel = "N", defaultValue = "200000", converter = BenchmarkOptions.PositiveLong.class,
            description = "Backlog size for phases 1 and 2 (default ${DEFAULT-VALUE}).")
    long changes;

    @Option(names = "--master-batch", paramLabel = "N", defaultValue = "5000", converter = BenchmarkOptions.PositiveInt.class,
            description = "Changes per master batch: per transaction and per confirm wait (default ${DEFAULT-VALUE}).")
    int masterBatch;

    @Option(names = "--workers", paramLabel = "N", defaultValue = "4", converter = BenchmarkOptions.PositiveInt.class,
            description = "Replica workers (default ${DEFAULT-VALUE}).")
    int workers;

    @Option(names = "--rate", paramLabel = "N", defaultValue = "1000", converter = BenchmarkOptions.PositiveInt.class,
            description = "One-row transactions per second in phase 3 (default ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--seconds", paramLabel = "N", defaultValue = "20", converter = BenchmarkOptions.PositiveInt.class,
            description = "Length of phase 3 (default ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--dump-rows", paramLabel = "N", defaultValue = "1000000", converter = BenchmarkOptions.PositiveInt.class,
            description = "Rows to dump and load in phase 4 (default ${DEFAULT-VALUE}).")
    int dumpRows;

    @Option(names = "--broker", paramLabel = "URI", defaultValue = Broker.LOCAL, description = "RabbitMQ (default ${DEFAULT-VALUE}).")
    String broker;

    @Option(names = "--phases", paramLabel = "N,N", split = ",", defaultValue = "0,1,2,3,4",
            description = "Phases to run (default ${DEFAULT-VALUE}); 2 applies the queue 1 fills, so it needs 1.")
    java.util.Set<Integer> phases;

    @Mixin
    private BenchmarkOptions.Help help;

    private final List<String> summary = new ArrayList<>();
    /**
     * The run's own cqrs_id: the exchange {@code cqrs} is shared by everything on the machine, and a
     * queue left bound to a plain {@code orders} by a killed run would take a copy of every message.
     */
    private final String cqrsId = "orders_" + UUID.randomUUID().toString().substring(0, 6);
    private CpuSampler cpu;
    /** The broker's rates with no database (phase 0), to which phases 1 and 2 are compared; 0 when not measured. */
    private double publishCeiling;
    private double deliverCeiling;

    private ReplicationBenchmark() {
    }

    @Override
    public Integer call() throws Exception {
        Path base = Files.createTempDirectory("annals-bench-cqrs");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        summary.add("Command   : annals-benchmark/run cqrs --changes " + changes + " --master-batch " + masterBatch + " --workers " + workers + " --rate " + rate
                + " --seconds " + seconds + " --dump-rows " + dumpRows);
        summary.add("Load avg  : " + BenchmarkSupport.loadAverage() + " (before)");
        if (phases.contains(2) && !phases.contains(1)) throw new IllegalArgumentException("Phase 2 applies the queue phase 1 fills: add 1");
        String queue = "bench_" + UUID.randomUUID().toString().substring(0, 8);
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().dataDirectory(base.resolve("postgres"))
                .setting("shared_buffers", "1GB").setting("max_wal_size", "4GB").start();
             Connection amqp = Broker.factory(broker).newConnection("annals benchmark")) {
            try (java.sql.Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
                for (String db : List.of("bench_master", "bench_replica", "bench_live", "bench_live_replica")) s.execute("CREATE DATABASE " + db);
            }
            summary.add("Server    : " + BenchmarkSupport.settings(pg.jdbcUrl("bench_master")));
            summary.add("Machine   : " + Runtime.getRuntime().availableProcessors() + " cores, JVM "
                    + System.getProperty("java.runtime.version") + ", RabbitMQ " + amqp.getServerProperties().get("version"));
            try (Channel ch = amqp.createChannel()) {
                CqrsTopology.declareReplicaQueues(ch, queue, List.of(cqrsId));
                cpu = new CpuSampler(base.resolve("postgres"));
                if (phases.contains(0)) ceiling(amqp);
                if (phases.contains(1)) backlog(pg, queue);
                if (phases.contains(2)) apply(pg, queue);
                if (phases.contains(3)) latency(pg, queue + "_live");
                if (phases.contains(4)) dumpAndLoad(pg);
            } finally {
                try (Channel ch = amqp.createChannel()) {
                    for (String q : List.of(queue, queue + "_live")) {
                        ch.queueDelete(q);
                        ch.queueDelete(CqrsTopology.deadLetterQueue(q));
                    }
                }
            }
        } finally {
            BenchmarkSupport.deleteRecursively(base);
        }
        summary.add("Load avg  : " + BenchmarkSupport.loadAverage() + " (after)");
        System.out.println();
        System.out.println("=== Annals CQRS replication benchmark ===");
        summary.forEach(System.out::println);
        return 0;
    }

    private static final String ORDERS = "CREATE TABLE orders (id bigint PRIMARY KEY, status text NOT NULL, amount numeric(10,2),"
            + " customer int)";

    /**
     * The broker's ceilings, with no database at all: the same number of messages of the same size,
     * made up in memory, published persistent into a durable queue with a confirm wait per 1,000,
     * as the master does; then consumed from that queue with a prefetch of 1,000 and acknowledged
     * one by one, as the replica's workers do, and again acknowledging 100 at a time.
     */
    private void ceiling(Connection amqp) throws Exception {
        String scratch = "bench_ceiling_" + UUID.randomUUID().toString().substring(0, 8);
        byte[] body = ("{\"signal_type\":\"SAVE\",\"cqrs_id\":\"" + cqrsId + "\",\"instance_data\":{\"cqrs_revision\":0,"
                + "\"cqrs_updated\":\"2026-12-04 21:38:28.016887+00:00\",\"id\":123456,\"status\":\"s123456\",\"amount\":12.5,"
                + "\"customer\":123},\"previous_data\":null,\"instance_pk\":123456,\"correlation_id\":null,\"retries\":0,"
                + "\"expires\":\"2026-12-05T21:38:28+00:00\",\"meta\":{}}").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        try (Channel ch = amqp.createChannel()) {
            ch.queueDeclare(scratch, true, false, false, null);
            ch.confirmSelect();
            double brokerBefore = brokerCpu();
            long t0 = System.nanoTime();
            for (long i = 0; i < changes; i++) {
                ch.basicPublish("", scratch, CqrsTopology.properties(), body);
                if (i % 1_000 == 999) ch.waitForConfirmsOrDie(60_000);
            }
            ch.waitForConfirmsOrDie(60_000);
            double s = (System.nanoTime() - t0) / 1e9;
            publishCeiling = changes / s;
            summary.add(String.format(Locale.ROOT, "0. Broker publish  : %,d persistent %d-byte messages into a durable queue, confirms per 1,000,"
                    + " no database: %,.0f msg/s (%.1f s; RabbitMQ %.1f CPU s)", changes, body.length, publishCeiling, s, brokerCpu() - brokerBefore));
            long half = changes / 2;
            double one = consume(amqp, scratch, half, 1);
            double hundred = consume(amqp, scratch, changes - half, 100);
            deliverCeiling = Math.max(one, hundred); // the replica coalesces its acknowledgements: compare with the better
            summary.add(String.format(Locale.ROOT, "0. Broker deliver  : the same messages consumed, prefetch 1,000, no database: %,.0f msg/s"
                    + " acknowledged one by one, %,.0f msg/s acknowledged 100 at a time", one, hundred));
            ch.queueDelete(scratch);
        }
    }

    /** Consumes {@code n} messages of {@code queue}, acknowledging every {@code ackEvery}-th with multiple=true; returns msg/s. */
    private static double consume(Connection amqp, String queue, long n, int ackEvery) throws Exception {
        try (Channel ch = amqp.createChannel()) {
            ch.basicQos(1_000);
            java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
            long[] seen = {0};
            long t0 = System.nanoTime();
            String tag = ch.basicConsume(queue, false, (consumerTag, d) -> {
                long k = ++seen[0];
                if (k > n) return; // delivered past the count: left unacknowledged, back to the queue when the channel closes
                if (k % ackEvery == 0 || k == n) ch.basicAck(d.getEnvelope().getDeliveryTag(), ackEvery > 1);
                if (k == n) done.countDown();
            }, consumerTag -> { });
            if (!done.await(10, java.util.concurrent.TimeUnit.MINUTES)) throw new IllegalStateException("the broker did not deliver");
            double s = (System.nanoTime() - t0) / 1e9;
            ch.basicCancel(tag);
            return n / s;
        }
    }

    /** CPU seconds RabbitMQ's Erlang VM (beam.smp) has used so far, read from /proc; 0 where that is not readable. */
    private static double brokerCpu() {
        double total = 0;
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                if (!Character.isDigit(p.getFileName().toString().charAt(0))) continue;
                try {
                    String stat = Files.readString(p.resolve("stat"));
                    if (!stat.contains("(beam.smp)")) continue;
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
                    total += (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
                } catch (java.io.IOException | RuntimeException e) {
                    // gone meanwhile
                }
            }
        } catch (java.io.IOException e) {
            return 0;
        }
        return total;
    }

    /** Where the CPU went during a phase: this JVM, PostgreSQL, RabbitMQ. */
    private String cpuLine(CpuSampler.Snapshot before, double brokerBefore) {
        CpuSampler.Usage u = CpuSampler.between(before, cpu.take(java.util.Map.of("feed", "annals-feed", "replica", "annals-replica")));
        return String.format(Locale.ROOT, "   CPU: %s | RabbitMQ %.1f s", u.describe(), brokerCpu() - brokerBefore);
    }

    private static String ratio(double rate, double ceiling) {
        return ceiling <= 0 ? "" : String.format(Locale.ROOT, ", %.2f of the broker's %,.0f msg/s", rate / ceiling, ceiling);
    }

    /** Phase 1: a backlog written with the change log's own writer, published by the master into the queue. */
    private void backlog(EmbeddedPostgres pg, String queue) throws Exception {
        String url = pg.jdbcUrl("bench_master");
        try (java.sql.Connection c = pg.connect("bench_master"); Statement s = c.createStatement()) {
            s.execute(ORDERS);
        }
        ChangeLog log = ChangeLog.at(url);
        log.migrate();
        try (ChangeLogWriter writer = log.openWriter("bench", c -> { })) {
            List<ChangeRow> batch = new ArrayList<>(10_000);
            Instant at = Instant.now();
            for (long i = 0; i < changes; i++) {
                long lsn = 1_000 + i / 10;
                long id = i % (changes / 2 + 1); // half the rows change twice: revisions 0 and 1
                batch.add(new ChangeRow(Position.of(lsn, i % 10), lsn, at, "bench", "public", "orders",
                        i == id ? Operation.CREATE : Operation.UPDATE, "{\"id\": " + id + "}", null,
                        "{\"id\": " + id + ", \"status\": \"s" + i + "\", \"amount\": 12.50, \"customer\": " + (i % 997) + "}",
                        List.of("id", "status", "amount", "customer"), "{}"));
                if (batch.size() == 10_000) {
                    writer.write(batch, lsn + 1);
                    batch.clear();
                }
            }
            writer.write(batch, 0);
        }
        CpuSampler.Snapshot cpuBefore = cpu.take(java.util.Map.of());
        double brokerBefore = brokerCpu();
        long t0 = System.nanoTime();
        try (CqrsMaster master = CqrsMaster.builder(log).broker(broker).entity(CqrsEntity.builder(cqrsId).table("orders").build())
                .feedName("bench").batchSize(masterBatch).start()) {
            if (!master.awaitCaughtUp(Duration.ofMinutes(30))) throw new IllegalStateException("the master did not catch up");
            double s = (System.nanoTime() - t0) / 1e9;
            double rate = master.published() / s;
            summary.add(BenchmarkSupport.verdict(rate >= 20_000, String.format(Locale.ROOT,
                    "1. Master publish  : %,d changes from the change log, confirms, persistent, into a durable queue: %,.0f msg/s"
                            + " (%.1f s; target >= 20,000%s)", master.published(), rate, s, ratio(rate, publishCeiling))));
            summary.add(cpuLine(cpuBefore, brokerBefore));
        }
    }

    /** Phase 2: the replica applies the queue the master filled, a batch per transaction. */
    private void apply(EmbeddedPostgres pg, String queue) throws Exception {
        try (java.sql.Connection c = pg.connect("bench_replica"); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE orders (id bigint PRIMARY KEY, status text NOT NULL, amount numeric(10,2), customer int,"
                    + " cqrs_revision int NOT NULL, cqrs_updated timestamptz NOT NULL)");
        }
        CpuSampler.Snapshot cpuBefore = cpu.take(java.util.Map.of());
        double brokerBefore = brokerCpu();
        long t0 = System.nanoTime();
        try (CqrsReplica replica = CqrsReplica.builder(JdbcDataSource.of(pg.jdbcUrl("bench_replica"))).broker(broker).queue(queue)
                .table(ReplicaTable.builder(cqrsId).table("orders").build()).workers(workers).prefetch(1_000).start()) {
            if (!replica.awaitIdle(Duration.ofMinutes(30))) throw new IllegalStateException("the replica did not catch up");
            double s = (System.nanoTime() - t0) / 1e9;
            long n = replica.stats().applied() + replica.stats().ignored();
            summary.add(BenchmarkSupport.verdict(n / s >= 10_000, String.format(Locale.ROOT,
                    "2. Replica apply   : %,d messages into PostgreSQL, %d workers, prefetch 1,000, batched: %,.0f msg/s"
                            + " (%.1f s; target >= 10,000%s)", n, workers, n / s, s, ratio(n / s, deliverCeiling))));
            summary.add(cpuLine(cpuBefore, brokerBefore));
        }
    }

    /** Phase 3: paced one-row transactions at the source, through capture, master, broker and replica. */
    private void latency(EmbeddedPostgres pg, String queue) throws Exception {
        String src = pg.jdbcUrl("bench_live");
        String dst = pg.jdbcUrl("bench_live_replica");
        try (java.sql.Connection c = pg.connect("bench_live"); Statement s = c.createStatement()) {
            s.execute(ORDERS);
        }
        try (java.sql.Connection c = pg.connect("bench_live_replica"); Statement s = c.createStatement()) {
            // applied_at: when the replica inserted the row; cqrs_updated: the source's commit time.
            s.execute("CREATE TABLE orders (id bigint PRIMARY KEY, status text NOT NULL, amount numeric(10,2), customer int,"
                    + " cqrs_revision int NOT NULL, cqrs_updated timestamptz NOT NULL, applied_at timestamptz DEFAULT clock_timestamp())");
        }
        long total = (long) rate * seconds;
        try (CaptureWorker capture = CaptureWorker.start(CaptureOptions.builder(src).slot("bench_cqrs").build());
             CqrsMaster master = CqrsMaster.builder(ChangeLog.at(src)).broker(broker)
                     .entity(CqrsEntity.builder(cqrsId).table("orders").build()).feedName("live").start();
             CqrsReplica replica = CqrsReplica.builder(JdbcDataSource.of(dst)).broker(broker).queue(queue)
                     .table(ReplicaTable.builder(cqrsId).table("orders").build()).workers(workers).start()) {
            capture.awaitCaughtUp(Duration.ofSeconds(60));
            try (java.sql.Connection c = pg.connect("bench_live");
                 PreparedStatement ps = c.prepareStatement("INSERT INTO orders VALUES (?, 'new', 9.99, 1)")) {
                long t0 = System.nanoTime();
                long interval = 1_000_000_000L / rate;
                for (long i = 0; i < total; i++) {
                    long wait = t0 + i * interval - System.nanoTime();
                    if (wait > 0) LockSupport.parkNanos(wait);
                    ps.setLong(1, i);
                    ps.executeUpdate();
                }
            }
            capture.awaitCaughtUp(Duration.ofSeconds(60));
            master.awaitCaughtUp(Duration.ofSeconds(60));
            replica.awaitIdle(Duration.ofSeconds(60));
        }
        try (java.sql.Connection c = pg.connect("bench_live_replica"); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*), percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY ms), max(ms)"
                     + " FROM (SELECT extract(epoch FROM applied_at - cqrs_updated) * 1000 AS ms FROM orders) x")) {
            rs.next();
            long got = rs.getLong(1);
            Double[] p = (Double[]) rs.getArray(2).getArray();
            double max = rs.getDouble(3);
            summary.add(BenchmarkSupport.verdict(p[1] < 150 && got == total, String.format(Locale.ROOT,
                    "3. Commit->replica : %,d one-row transactions at %,d/s, source commit -> capture -> master -> RabbitMQ ->"
                            + " replica row: p50 %.1f ms, p99 %.1f ms, max %.1f ms, %,d of %,d arrived (target p99 < 150 ms)",
                    total, rate, p[0], p[1], max, got, total)));
        }
    }

    /** Phase 4: a consistent dump of {@code --dump-rows} rows, and its load into an empty replica table. */
    private void dumpAndLoad(EmbeddedPostgres pg) throws Exception {
        String src = pg.jdbcUrl("bench_master");
        try (java.sql.Connection c = pg.connect("bench_master"); Statement s = c.createStatement()) {
            s.execute("TRUNCATE orders");
            s.execute("INSERT INTO orders SELECT g, 'dump', 12.50, g % 997 FROM generate_series(1, " + dumpRows + ") g");
            s.execute("VACUUM ANALYZE orders");
        }
        try (java.sql.Connection c = pg.connect("bench_replica"); Statement s = c.createStatement()) {
            s.execute("TRUNCATE orders");
        }
        Path file = Files.createTempFile("annals-bench-dump", ".jsonl");
        try {
            long t0 = System.nanoTime();
            long n;
            try (Writer w = Files.newBufferedWriter(file)) {
                n = CqrsMaster.builder(ChangeLog.at(src)).entity(CqrsEntity.builder(cqrsId).table("orders").build())
                        .dump(cqrsId, null, w, x -> { });
            }
            double dumpS = (System.nanoTime() - t0) / 1e9;
            t0 = System.nanoTime();
            CqrsReplica.LoadResult r;
            try (var in = Files.newBufferedReader(file)) {
                r = CqrsReplica.builder(JdbcDataSource.of(pg.jdbcUrl("bench_replica"))).table(ReplicaTable.builder(cqrsId).table("orders").build())
                        .load(in, System.err::println, x -> { });
            }
            double loadS = (System.nanoTime() - t0) / 1e9;
            summary.add(BenchmarkSupport.verdict(dumpS < 60 && n == dumpRows, String.format(Locale.ROOT,
                    "4. Dump            : %,d rows, one snapshot, %,d MB of JSON lines: %.1f s, %,.0f rows/s (target < 60 s)",
                    n, Files.size(file) >> 20, dumpS, n / dumpS)));
            summary.add(BenchmarkSupport.verdict(loadS < 60 && r.applied() == dumpRows, String.format(Locale.ROOT,
                    "4. Load            : %,d rows applied, 1,000 per transaction and round trip: %.1f s, %,.0f rows/s (target < 60 s)",
                    r.applied(), loadS, r.applied() / loadS)));
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
