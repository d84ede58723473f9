package io.annals.benchmark;

import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeLogWriter;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.embedded.EmbeddedPostgres;

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
final class ChangeLogWriteBenchmark {

    private ChangeLogWriteBenchmark() {
    }

    static void main(String[] args) throws Exception {
        long changes = 1_000_000;
        int batchSize = 10_000;
        List<String> dropIndexes = new ArrayList<>();
        Map<String, String> pgSettings = BenchmarkSettings.defaultPgSettings();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--changes" -> changes = Long.parseLong(args[++i].replace("_", ""));
                case "--batch-size" -> batchSize = Integer.parseInt(args[++i].replace("_", ""));
                case "--drop-index" -> dropIndexes.add(args[++i]);
                case "--pg" -> {
                    String v = args[++i];
                    pgSettings.put(v.substring(0, v.indexOf('=')), v.substring(v.indexOf('=') + 1));
                }
                default -> {
                    System.out.println("Usage: annals-benchmark/run changelog [--changes N] [--batch-size N]"
                            + " [--drop-index NAME]... [--pg NAME=VALUE]...");
                    System.out.println("Indexes of annals.changes: changes_pkey, changes_position_key, changes_row_history_idx,"
                            + " changes_committed_at_idx, changes_transaction_idx");
                    return;
                }
            }
        }
        Path base = Files.createTempDirectory("annals-bench-changelog");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path dataDir = base.resolve("postgres");
        EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder().dataDirectory(dataDir);
        pgSettings.forEach(builder::setting);
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
    }
}
