package io.annals.cli;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.context.AnnalsContext;
import io.annals.context.ContextDataSource;
import io.annals.embedded.EmbeddedPostgres;
import org.postgresql.ds.PGSimpleDataSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code annals demo}: the whole capture pipeline on a throwaway embedded PostgreSQL. Writes
 * through the context-aware DataSource and with plain SQL, then prints the change log.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, subcommands = EventsDemoCommand.class,
        description = "Start an embedded PostgreSQL, capture a few changes made under different contexts, print the change log.")
@SuppressWarnings("try") // scopes and locks held for their side effect
final class DemoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path dir = Files.createTempDirectory("annals-demo");
        dir.toFile().setExecutable(true, false);
        dir.toFile().setReadable(true, false);
        long started = System.nanoTime();
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().dataDirectory(dir.resolve("postgres")).start()) {
            String url = pg.jdbcUrl("postgres");
            out.println("1. Embedded PostgreSQL " + pg.majorVersion() + " is up: " + url);
            try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE todo (id serial PRIMARY KEY, title text NOT NULL, done boolean NOT NULL DEFAULT false)");
                s.execute("CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric(12,2) NOT NULL)");
                s.execute("CREATE TABLE transfers (id serial PRIMARY KEY, from_account int REFERENCES accounts,"
                        + " to_account int REFERENCES accounts, amount numeric(12,2) NOT NULL)");
                s.execute("INSERT INTO accounts VALUES (1, 'alice', 100.00), (2, 'bob', 20.00)");
            }
            out.println("2. Created tables todo, accounts and transfers; two accounts exist before capture starts.");
            CaptureOptions options = CaptureOptions.builder(url).heartbeatInterval(Duration.ofSeconds(1)).build();
            try (CaptureWorker worker = CaptureWorker.start(options)) {
                out.println("3. Capture worker started (slot '" + worker.slotName() + "'); the existing accounts were recorded as SNAPSHOT rows.");
                PGSimpleDataSource plain = new PGSimpleDataSource();
                plain.setURL(url);
                ContextDataSource app = ContextDataSource.wrap(plain);

                try (var scope = AnnalsContext.with(Map.of("user_id", 42, "endpoint", "POST /todo", "request_id", "req-1001"));
                     Connection c = app.getConnection();
                     PreparedStatement ps = c.prepareStatement("INSERT INTO todo (title) VALUES (?)")) {
                    for (String title : List.of("write the docs", "ship capture", "celebrate")) {
                        ps.setString(1, title);
                        ps.executeUpdate();
                    }
                }
                try (var scope = AnnalsContext.with(Map.of("user_id", 7, "endpoint", "POST /transfers", "request_id", "req-1002"));
                     Connection c = app.getConnection()) {
                    c.setAutoCommit(false);
                    try (Statement s = c.createStatement()) {
                        s.executeUpdate("INSERT INTO transfers (from_account, to_account, amount) VALUES (1, 2, 30.00)");
                        s.executeUpdate("UPDATE accounts SET balance = balance - 30.00 WHERE id = 1");
                        s.executeUpdate("UPDATE accounts SET balance = balance + 30.00 WHERE id = 2");
                    }
                    c.commit();
                }
                try (Connection c = plain.getConnection(); Statement s = c.createStatement()) {
                    s.executeUpdate("UPDATE todo SET done = true WHERE id <= 2"); // direct SQL, no context
                }
                try (var scope = AnnalsContext.with(Map.of("user_id", 42, "endpoint", "DELETE /todo/3", "request_id", "req-1003"));
                     Connection c = app.getConnection(); Statement s = c.createStatement()) {
                    s.executeUpdate("DELETE FROM todo WHERE id = 3");
                }
                try (var scope = AnnalsContext.with(Map.of("user_id", 1, "endpoint", "POST /admin/reset-transfers", "request_id", "req-1004"));
                     Connection c = app.getConnection(); Statement s = c.createStatement()) {
                    s.execute("TRUNCATE transfers");
                }
                out.println("4. Made changes: 3 inserts (user 42), a transfer in one transaction (user 7), a direct-SQL bulk UPDATE,"
                        + " a DELETE and a TRUNCATE.");
                worker.awaitCaughtUp(Duration.ofSeconds(30));
                out.println("5. The change log (annals.changes):");
                out.println();
                printChangeLog(pg, out);
            }
            out.println();
            out.printf("6. Capture stopped cleanly; the demo took %.1f s.%n", (System.nanoTime() - started) / 1e9);
        } finally {
            deleteRecursively(dir);
        }
        return 0;
    }

    private static void printChangeLog(EmbeddedPostgres pg, PrintWriter out) throws Exception {
        TablePrinter table = new TablePrinter(
                List.of("primary_key", "table", "operation", "before", "after", "context", "committed_at"),
                new int[]{12, 10, 9, 44, 52, 62, 23});
        try (Connection c = pg.connect("postgres"); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT primary_key::text, \"table\", operation, before::text, after::text,"
                     + " context::text, to_char(committed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS')"
                     + " FROM annals.changes ORDER BY position")) {
            while (rs.next()) {
                table.add(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5),
                        rs.getString(6), rs.getString(7));
            }
        }
        table.print(out);
    }

    private static void deleteRecursively(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException ignored) {
            // A temp folder; the OS cleans it eventually.
        }
    }
}
