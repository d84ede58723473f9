package io.annals.benchmark;

import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeLogWriter;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.embedded.EmbeddedPostgres;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * How fast the change log alone absorbs rows: {@link ChangeLogWriter#write} in batches, with no
 * replication and no decoding, rows shaped like the ones {@link CaptureBenchmark} produces. It
 * separates the cost of storing a change from the cost of capturing it; {@code --drop-index}
 * shows what each index of {@code annals.changes} costs.
 *
 * <pre>
 * annals-benchmark/run changelog --changes 1000000 --batch-size 10000
 * annals-benchmark/run changelog --drop-index changes_row_history_idx
 * </pre>
 */
@Command(name = "changelog", usageHelpWidth = 100,
        description = "The change log's write path alone: ChangeLogWriter.write in batches, no replication, no decoding.")
final class ChangeLogWriteBenchmark implements Callable<Integer> {

    @Option(names = "--changes", paramLabel = "N", defaultValue = "1000000", converter = BenchmarkOptions.PositiveLong.class,
            description = "change-log rows to write (default ${DEFAULT-VALUE})")
    long changes;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "10000", converter = BenchmarkOptions.PositiveInt.class,
            description = "rows per ChangeLogWriter.write (default ${DEFAULT-VALUE})")
    int batchSize;

    @Option(names = "--drop-index", paramLabel = "NAME", description = "drop this index of annals.changes first (repeatable):"
            + " changes_pkey, changes_position_key, changes_row_history_idx, changes_committed_at_idx, changes_transaction_idx")
    List<String> dropIndexes = new ArrayList<>();

    @Mixin
    private BenchmarkOptions.Pg postgres;

    @Mixin
    private BenchmarkOptions.Help help;

    private ChangeLogWriteBenchmark() {
    }

    @Override
    public Integer call() throws Exception {
        Path base = Files.createTempDirectory("annals-bench-changelog");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path dataDir = base.resolve("postgres");
        EmbeddedPostgres.Builder builder = postgres.builder(dataDir);
        try (EmbeddedPostgres pg = builder.start()) {
            pg.createDatabase("bench");
            String url = pg.jdbcUrl("bench");
            ChangeLog log = ChangeLog.at(url);
            log.migrate();
            try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
                for (String index : dropIndexes) {
                    if (index.equals("changes_pkey")) {
                        s.execute("ALTER TABLE annals.changes DROP CONSTRAINT changes_pkey");
                    } else {
                        s.execute("DROP INDEX annals." + index);
                    }
                }
                s.execute("CHECKPOINT");
            }
            CpuSampler cpu = new CpuSampler(dataDir);
            System.out.printf(Locale.ROOT, "Writing %,d change-log rows in batches of %,d%s%n", changes, batchSize,
                    dropIndexes.isEmpty() ? "" : ", without indexes " + dropIndexes);
            try (ChangeLogWriter writer = log.openWriter("bench", c -> { })) {
                Instant committed = Instant.now();
                long lsn = 0x1_0000_0000L;
                CpuSampler.Snapshot before = cpu.take(Map.of("writer", "main"));
                long started = System.nanoTime();
                List<ChangeRow> rows = new ArrayList<>(batchSize);
                for (long id = 1; id <= changes; id++) {
                    if ((id - 1) % 1000 == 0) lsn += 0x10000; // a new source transaction every 1,000 rows
                    String after = "{\"id\":" + id + ",\"account\":" + id % 1000 + ",\"amount\":" + (id % 100_000) / 100.0
                            + ",\"note\":\"note " + id + "\"}";
                    rows.add(new ChangeRow(Position.of(lsn, (id - 1) % 1000), 1000 + id / 1000, committed, "bench", "public",
                            "bench", Operation.CREATE, "{\"id\":" + id + "}", null, after,
                            List.of("id", "account", "amount", "note"), "{}"));
                    if (rows.size() == batchSize || id == changes) {
                        writer.write(rows, id % 1000 == 0 ? lsn + 0x100 : 0);
                        rows.clear();
                    }
                }
                double seconds = (System.nanoTime() - started) / 1e9;
                CpuSampler.Usage usage = CpuSampler.between(before, cpu.take(Map.of("writer", "main")));
                System.out.printf(Locale.ROOT, "Change log alone: %,d rows in %.1f s = %,.0f rows/s%n", changes, seconds,
                        changes / seconds);
                System.out.println("  CPU: " + usage.describe());
                System.out.printf(Locale.ROOT, "  PostgreSQL backend CPU per row: %.1f us%n",
                        usage.postgres().getOrDefault("backends", 0.0) / changes * 1e6);
            }
        } finally {
            try (var walk = Files.walk(base)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        return 0;
    }
}
