package io.annals.benchmark;

import io.annals.embedded.EmbeddedPostgres;
import io.annals.events.EventData;
import io.annals.events.EventStore;
import io.annals.events.EventTypes;
import io.annals.events.ExpectedVersion;
import io.annals.events.GlobalPosition;
import io.annals.events.aggregate.Aggregate;
import io.annals.events.aggregate.AggregateRepository;
import io.annals.events.aggregate.Loaded;
import io.annals.events.aggregate.SnapshotPolicy;
import io.annals.events.subscription.Subscription;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The event store benchmark ({@code annals-benchmark/run events}): one embedded PostgreSQL 18 with
 * durable settings (fsync, synchronous_commit and full_page_writes at their defaults, i.e. on),
 * measuring each target of issue 4 in turn:
 * <ol>
 *   <li>appends in batches of 100 events, one writer (target 20,000 events/s);</li>
 *   <li>single-event appends from 4 concurrent writers (target 2,000 appends/s);</li>
 *   <li>reading all events in the global order (target 100,000 events/s);</li>
 *   <li>loading an aggregate of 10,000 events with a recent snapshot (target under 5 ms);</li>
 *   <li>subscription latency at 1,000 events/s, from the start of the append call to the
 *       handler, so the commit itself is included (target p99 under 100 ms).</li>
 * </ol>
 *
 * <pre>
 * annals-benchmark/run events --events 50000 --seconds 5
 * </pre>
 */
@Command(name = "events", usageHelpWidth = 100,
        header = "The event store: appends, reads, aggregate loads and subscription latency, against targets.",
        description = {"On an embedded PostgreSQL with durable settings, one target after another:",
                "  1. appends in batches of 100 events, one writer (target 20,000 events/s)",
                "  2. single-event appends from 4 concurrent writers (target 2,000 appends/s)",
                "  3. reading all events in the global order (target 100,000 events/s)",
                "  4. loading an aggregate of 10,000 events with a recent snapshot (target under 5 ms)",
                "  5. subscription latency at --rate events/s, from append call to handler (target p99 under 100 ms)"})
final class EventStoreBenchmark implements Callable<Integer> {

    private static final String PAYLOAD = "{\"account\":%d,\"amount\":%d.25,\"currency\":\"EUR\",\"note\":\"benchmark transfer\"}";

    @Option(names = "--events", paramLabel = "N", defaultValue = "200000", converter = BenchmarkOptions.PositiveLong.class,
            description = "events appended in phase 1 (default ${DEFAULT-VALUE})")
    long events;

    @Option(names = "--seconds", paramLabel = "S", defaultValue = "15", converter = BenchmarkOptions.PositiveInt.class,
            description = "length of phases 2 and 5 (default ${DEFAULT-VALUE})")
    int seconds;

    @Option(names = "--rate", paramLabel = "R", defaultValue = "1000", converter = BenchmarkOptions.PositiveInt.class,
            description = "events per second in phase 5 (default ${DEFAULT-VALUE})")
    int rate;

    @Mixin
    private BenchmarkOptions.Help help;

    private EventStoreBenchmark() {
    }

    @Override
    public Integer call() throws Exception {
        Path base = Files.createTempDirectory("annals-bench-events");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        List<String> summary = new ArrayList<>();
        summary.add("Command   : annals-benchmark/run events --events " + events + " --seconds " + seconds + " --rate " + rate);
        summary.add("Load avg  : " + BenchmarkSupport.loadAverage() + " (before)");
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().dataDirectory(base.resolve("postgres"))
                .setting("shared_buffers", "1GB").setting("max_wal_size", "4GB").start()) {
            try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE bench_events");
            }
            String url = pg.jdbcUrl("bench_events");
            summary.add("Server    : " + BenchmarkSupport.settings(url));
            summary.add("Machine   : " + Runtime.getRuntime().availableProcessors() + " cores, JVM " + System.getProperty("java.runtime.version"));
            summary.add(commitLatency(url));
            try (EventStore store = EventStore.at(url)) {
                store.migrate();
                summary.add(batchAppends(store, events));
                summary.add(concurrentBatchAppends(store, events));
                summary.add(concurrentSingleAppends(store, seconds, "2. Single appends  "));
                // The same without waiting for the WAL flush: not durable, shown only to separate the
                // store's own cost from the disk's flush latency.
                try (EventStore unflushed = EventStore.at(url + (url.contains("?") ? "&" : "?")
                        + "options=-c%20synchronous_commit%3Doff")) {
                    summary.add(concurrentSingleAppends(unflushed, seconds, "2b. Same, synchronous_commit=off (NOT durable, reference only)"));
                }
                summary.add(readAll(store));
                summary.add(aggregateLoad(store));
                summary.add(subscriptionLatency(store, seconds, rate));
            }
        } finally {
            BenchmarkSupport.deleteRecursively(base);
        }
        summary.add("Load avg  : " + BenchmarkSupport.loadAverage() + " (after)");
        System.out.println();
        System.out.println("=== Annals event store benchmark ===");
        summary.forEach(System.out::println);
        return 0;
    }

    private static String batchAppends(EventStore store, long events) {
        int batch = 100;
        appendBatches(store, "warmup", 20_000 / batch, batch); // JIT and server caches, not measured
        long batches = events / batch;
        long t0 = System.nanoTime();
        appendBatches(store, "batch", batches, batch);
        double secs = (System.nanoTime() - t0) / 1e9;
        double perSecond = batches * batch / secs;
        return BenchmarkSupport.verdict(perSecond >= 20_000, String.format(Locale.ROOT,
                "1. Batch append    : %,d events in batches of %d, 1 writer: %,.0f events/s (%.1f s; target >= 20,000)",
                batches * batch, batch, perSecond, secs));
    }

    private static String concurrentBatchAppends(EventStore store, long events) throws Exception {
        int writers = 4;
        int batch = 100;
        long batchesPerWriter = events / batch / writers;
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        List<Future<?>> done = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int w = 0; w < writers; w++) {
            int writer = w;
            done.add(pool.submit(() -> appendBatches(store, "batch4-" + writer, batchesPerWriter, batch)));
        }
        for (Future<?> f : done) f.get();
        pool.shutdown();
        double secs = (System.nanoTime() - t0) / 1e9;
        long total = batchesPerWriter * writers * batch;
        double perSecond = total / secs;
        return BenchmarkSupport.verdict(perSecond >= 20_000, String.format(Locale.ROOT,
                "1b. Batch append   : %,d events in batches of %d, 4 writers: %,.0f events/s (%.1f s; target >= 20,000)",
                total, batch, perSecond, secs));
    }

    private static void appendBatches(EventStore store, String prefix, long batches, int batch) {
        for (long b = 0; b < batches; b++) {
            List<EventData> data = new ArrayList<>(batch);
            for (int i = 0; i < batch; i++) data.add(EventData.of("MoneyTransferred", String.format(Locale.ROOT, PAYLOAD, b, i)));
            store.append(prefix + "-" + (b % 1_000), ExpectedVersion.any(), data);
        }
    }

    private static String concurrentSingleAppends(EventStore store, int seconds, String label) throws Exception {
        int writers = 4;
        AtomicLong appends = new AtomicLong();
        long deadline = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        List<Future<?>> done = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int w = 0; w < writers; w++) {
            int writer = w;
            done.add(pool.submit(() -> {
                long n = 0;
                while (System.nanoTime() < deadline) {
                    store.append("single-" + writer + "-" + (n % 100), ExpectedVersion.any(),
                            EventData.of("MoneyTransferred", String.format(Locale.ROOT, PAYLOAD, writer, n)));
                    n++;
                    appends.incrementAndGet();
                }
            }));
        }
        for (Future<?> f : done) f.get();
        pool.shutdown();
        double secs = (System.nanoTime() - t0) / 1e9;
        double perSecond = appends.get() / secs;
        return BenchmarkSupport.verdict(perSecond >= 2_000, String.format(Locale.ROOT,
                "%s: 4 writers, 1 event per append and transaction: %,.0f appends/s (%,d in %.1f s; target >= 2,000)",
                label, perSecond, appends.get(), secs));
    }

    private static String readAll(EventStore store) {
        store.readAll().maxCount(50_000).forEach(e -> { }); // warm-up
        AtomicLong n = new AtomicLong();
        AtomicLong bytes = new AtomicLong();
        long t0 = System.nanoTime();
        store.readAll().forEach(e -> {
            n.incrementAndGet();
            bytes.addAndGet(e.data().length());
        });
        double secs = (System.nanoTime() - t0) / 1e9;
        double perSecond = n.get() / secs;
        return BenchmarkSupport.verdict(perSecond >= 100_000, String.format(Locale.ROOT,
                "3. Read all        : %,d events in global order (cursor, fetch 1,000): %,.0f events/s (%.2f s; target >= 100,000)",
                n.get(), perSecond, secs));
    }

    sealed interface CounterEvent permits Counted { }

    record Counted(long amount, String note) implements CounterEvent { }

    record Total(long sum, long count) { }

    static final class Counter implements Aggregate<Total, CounterEvent> {
        @Override
        public String category() {
            return "counter";
        }

        @Override
        public Class<Total> stateClass() {
            return Total.class;
        }

        @Override
        public Total initialState() {
            return new Total(0, 0);
        }

        @Override
        public Total apply(Total t, CounterEvent e) {
            return switch (e) {
                case Counted c -> new Total(t.sum() + c.amount(), t.count() + 1);
            };
        }
    }

    private static String aggregateLoad(EventStore store) {
        EventTypes<CounterEvent> types = EventTypes.of(CounterEvent.class).build();
        AggregateRepository<Total, CounterEvent> repo = AggregateRepository.of(store, new Counter(), types)
                .withSnapshots(SnapshotPolicy.everyEvents(1_000), 1);
        String id = "big";
        for (int b = 0; b < 100; b++) {
            List<CounterEvent> batch = new ArrayList<>();
            for (int i = 0; i < 100; i++) batch.add(new Counted(i, "n" + i));
            Loaded<Total> current = repo.load(id);
            repo.append(current, batch); // snapshots at every 1,000th version, the last at 10,000
        }
        repo.append(repo.load(id), List.of(new Counted(1, "after"), new Counted(2, "the"), new Counted(3, "snapshot")));
        long[] nanos = new long[500];
        for (int warm = 0; warm < 200; warm++) repo.load(id);
        Loaded<Total> loaded = null;
        for (int i = 0; i < nanos.length; i++) {
            long t0 = System.nanoTime();
            loaded = repo.load(id);
            nanos[i] = System.nanoTime() - t0;
        }
        Arrays.sort(nanos);
        double p50 = nanos[nanos.length / 2] / 1e6;
        double p90 = nanos[(int) (nanos.length * 0.90)] / 1e6;
        double p99 = nanos[(int) (nanos.length * 0.99)] / 1e6;
        // Without a snapshot, for comparison: another state version never sees the snapshots above.
        AggregateRepository<Total, CounterEvent> plain = AggregateRepository.of(store, new Counter(), types)
                .withSnapshots(SnapshotPolicy.never(), 2);
        plain.load(id);
        long t0 = System.nanoTime();
        plain.load(id);
        double replay = (System.nanoTime() - t0) / 1e6;
        return BenchmarkSupport.verdict(p99 < 5, String.format(Locale.ROOT,
                "4. Aggregate load  : %,d events, snapshot at %,d, %d replayed: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms over %d loads"
                        + " (target < 5 ms; full replay without snapshot %.0f ms)",
                loaded.version(), loaded.snapshotVersion(), loaded.version() - loaded.snapshotVersion(), p50, p90, p99, nanos.length, replay));
    }

    @SuppressWarnings("try") // the subscription is held open only to be closed
    private static String subscriptionLatency(EventStore store, int seconds, int rate) throws Exception {
        int writers = 2;
        int perWriter = rate * seconds / writers;
        long[][] started = new long[writers][perWriter];
        long[][] returned = new long[writers][perWriter];
        long[][] handled = new long[writers][perWriter];
        AtomicLong received = new AtomicLong();
        // Start after everything appended so far: only the paced events are measured.
        GlobalPosition[] head = {GlobalPosition.START};
        store.readAll().forEach(e -> head[0] = e.globalPosition());
        try (Subscription sub = Subscription.to(store, "latency").startingAfter(head[0]).start(e -> {
            long now = System.nanoTime();
            if (!e.type().equals("Paced")) return;
            handled[(int) field(e.data(), "w")][(int) field(e.data(), "i")] = now;
            received.incrementAndGet();
        })) {
            long intervalNanos = 1_000_000_000L * writers / rate;
            ExecutorService pool = Executors.newFixedThreadPool(writers);
            List<Future<?>> done = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int writer = w;
                done.add(pool.submit(() -> {
                    long next = System.nanoTime();
                    for (int i = 0; i < perWriter; i++) {
                        long wait = next - System.nanoTime();
                        if (wait > 0) LockSupport.parkNanos(wait);
                        started[writer][i] = System.nanoTime();
                        store.append("paced-" + writer, ExpectedVersion.any(),
                                EventData.of("Paced", "{\"w\": " + writer + ", \"i\": " + i + "}"));
                        returned[writer][i] = System.nanoTime();
                        next += intervalNanos;
                    }
                }));
            }
            for (Future<?> f : done) f.get();
            pool.shutdown();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (received.get() < (long) perWriter * writers && System.nanoTime() < deadline) Thread.sleep(10);
        }
        int total = perWriter * writers;
        long[] fromStart = new long[total];
        long[] fromCommit = new long[total];
        int n = 0;
        for (int w = 0; w < writers; w++) {
            for (int i = 0; i < perWriter; i++) {
                if (handled[w][i] == 0) continue;
                fromStart[n] = handled[w][i] - started[w][i];
                // The handler can run before the commit's acknowledgement reaches the writer: count that as 0.
                fromCommit[n] = Math.max(0, handled[w][i] - returned[w][i]);
                n++;
            }
        }
        long[] a = Arrays.copyOf(fromStart, n);
        long[] b = Arrays.copyOf(fromCommit, n);
        Arrays.sort(a);
        Arrays.sort(b);
        double p99Commit = b[(int) (n * 0.99)] / 1e6;
        return BenchmarkSupport.verdict(p99Commit < 100 && n == total, String.format(Locale.ROOT,
                "5. Subscription    : %,d of %,d events at %,d/s (2 paced writers, 1 event per append); commit acknowledged to handler:"
                        + " p50 %.1f ms, p99 %.1f ms, max %.1f ms; append start (so including the commit) to handler: p50 %.1f ms,"
                        + " p99 %.1f ms, max %.1f ms (target p99 < 100 ms)",
                n, total, rate, b[n / 2] / 1e6, p99Commit, b[n - 1] / 1e6, a[n / 2] / 1e6, a[(int) (n * 0.99)] / 1e6, a[n - 1] / 1e6));
    }

    /** A non-negative integer field of a small JSON object, without a JSON parser in the measured path. */
    private static long field(String json, String name) {
        int at = json.indexOf("\"" + name + "\": ") + name.length() + 4;
        long value = 0;
        while (at < json.length() && Character.isDigit(json.charAt(at))) value = value * 10 + (json.charAt(at++) - '0');
        return value;
    }

    /** The disk's cost of a durable commit: serial one-row INSERT commits, the floor under every append. */
    private static String commitLatency(String url) throws Exception {
        try (Connection c = java.sql.DriverManager.getConnection(url); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE commit_probe (id int)");
            for (int i = 0; i < 50; i++) s.execute("INSERT INTO commit_probe VALUES (1)");
            int n = 500;
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) s.execute("INSERT INTO commit_probe VALUES (1)");
            double ms = (System.nanoTime() - t0) / 1e6 / n;
            s.execute("DROP TABLE commit_probe");
            return String.format(Locale.ROOT, "Commit    : a one-row INSERT in autocommit takes %.2f ms on this disk (%,.0f durable commits/s, one connection)",
                    ms, 1000 / ms);
        }
    }
}
