package io.annals.cli;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.context.AnnalsContext;
import io.annals.context.ContextDataSource;
import io.annals.embedded.EmbeddedPostgres;
import io.annals.changelog.Operation;
import io.annals.history.AuditTrail;
import io.annals.history.Change;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;
import org.postgresql.ds.PGSimpleDataSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code annals demo}: the whole capture pipeline on an embedded PostgreSQL in a new temporary
 * folder. Writes through the context-aware DataSource and with plain SQL, prints the change log,
 * and then the history, as-of and revert commands to try on it. The folder is kept for them; it
 * is removed only when the demo fails.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, subcommands = {EventsDemoCommand.class, ProjectionsDemoCommand.class,
        ReplicationDemoCommand.class},
        description = "Start an embedded PostgreSQL, capture a few changes made under different contexts, print the change log.",
        footer = {"", "The database is kept in a temporary folder, and the commands to try on it",
                "are printed."})
@SuppressWarnings("try") // scopes and locks held for their side effect
final class DemoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path dir = newFolder("annals-demo");
        long started = System.nanoTime();
        boolean done = false;
        String beforeDelete;
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
                out.println("5. The change log, read through the audit trail:");
                out.println();
                printChangeLog(pg, out);
                beforeDelete = lastPositionBefore(pg, Operation.DELETE);
            }
            out.println();
            out.printf("6. Capture stopped cleanly; the demo took %.1f s.%n", (System.nanoTime() - started) / 1e9);
            done = true;
        } finally {
            if (!done) deleteRecursively(dir);
        }
        printNextSteps(out, dir, beforeDelete);
        return 0;
    }

    /**
     * Command lines that work on the demo's data as it stands. The launcher script passes its own
     * path, so that they can be pasted as they are; run from the jar, they say {@code annals}.
     */
    private static void printNextSteps(PrintWriter out, Path dir, String beforeDelete) {
        String annals = Output.shellWord(System.getProperty("annals.command", "annals"));
        String dataDir = "--data-dir " + Output.shellWord(dir.resolve("postgres").toAbsolutePath().toString());
        out.println("7. The demo's database is kept in " + dir.toAbsolutePath() + ". Try the change log on it:");
        out.println();
        out.println("  # every change of table todo, oldest first");
        out.println("  " + annals + " history " + dataDir + " --table todo");
        out.println("  # table todo as it was just before the DELETE");
        out.println("  " + annals + " as-of " + dataDir + " --table todo --at " + beforeDelete);
        out.println("  # undo the DELETE of request req-1003: 'celebrate' comes back (--dry-run shows the SQL only)");
        out.println("  " + annals + " revert " + dataDir + " --context request_id=req-1003");
        out.println();
        out.println("The revert is recorded in the change log once capture runs again (" + annals + " run " + dataDir + ").");
        out.println("Remove the folder when done: rm -rf " + Output.shellWord(dir.toAbsolutePath().toString()));
        out.flush();
    }

    /** The position of the change just before the first {@code operation} in the change log. */
    private static String lastPositionBefore(EmbeddedPostgres pg, Operation operation) {
        Change previous = null;
        for (Change c : AuditTrail.of(pg.jdbcUrl("postgres")).changes().list()) {
            if (c.operation() == operation) break;
            previous = c;
        }
        return previous == null ? null : previous.position().toString();
    }

    /** The change log through the audit trail, one row per change, images as jsonb prints them. */
    private static void printChangeLog(EmbeddedPostgres pg, PrintWriter out) {
        TablePrinter table = new TablePrinter(
                List.of("primary_key", "table", "operation", "before", "after", "context", "committed_at"),
                new int[]{12, 10, 9, 44, 52, 62, 23});
        DateTimeFormatter at = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS").withZone(ZoneOffset.UTC);
        for (Change c : AuditTrail.of(pg.jdbcUrl("postgres")).changes().list()) {
            table.add(jsonb(c.primaryKey()), c.table(), c.operation().name(), jsonb(c.before()), jsonb(c.after()),
                    jsonb(c.context()), at.format(c.committedAt()));
        }
        table.print(out);
    }

    /** JSON spaced as PostgreSQL prints jsonb ({@code {"id": 1, "tags": [1, 2]}}), or null. */
    static String jsonb(JsonNode node) {
        if (node == null || node.isMissingNode()) return null;
        if (node.isObject()) {
            StringBuilder sb = new StringBuilder("{");
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                if (sb.length() > 1) sb.append(", ");
                sb.append(TextNode.valueOf(e.getKey())).append(": ").append(jsonb(e.getValue()));
            }
            return sb.append('}').toString();
        }
        if (node.isArray()) {
            StringBuilder sb = new StringBuilder("[");
            for (JsonNode v : node) {
                if (sb.length() > 1) sb.append(", ");
                sb.append(jsonb(v));
            }
            return sb.append(']').toString();
        }
        return node.isBigDecimal() ? node.decimalValue().toPlainString() : node.toString();
    }

    /**
     * A new temporary folder for a demo's database, open to every user: the embedded server runs
     * as {@code nobody} when the JVM is root, and must reach its data folder inside.
     */
    static Path newFolder(String prefix) throws java.io.IOException {
        Path dir = Files.createTempDirectory(prefix);
        dir.toFile().setExecutable(true, false);
        dir.toFile().setReadable(true, false);
        return dir;
    }

    static void deleteRecursively(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException ignored) {
            // A temp folder; the OS cleans it eventually.
        }
    }
}
