package io.annals.cli;

import io.annals.context.ContextMessage;
import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.changelog.ChangeLog;
import io.annals.embedded.EmbeddedPostgres;
import io.annals.projections.Projection;
import io.annals.projections.Projections;
import io.annals.projections.RunningProjection;
import io.annals.projections.VerifyReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code annals demo projections}: the Wave accounting example of "Denormalize All the Things!" on
 * an embedded PostgreSQL in a new temporary folder. Four projections keep three read tables and a
 * computed column true to the canonical tables, through direct SQL that no {@code save()} hook
 * would see; a manual edit of a read row is found with who made it, and repaired. The folder is
 * kept for the commands it prints; it is removed only when the demo fails.
 */
@Command(name = "projections", mixinStandardHelpOptions = true,
        description = "Start an embedded PostgreSQL and keep Wave's accounting read tables true to their sources:"
                + " bulk SQL, a manual edit found by verify, a repair.",
        footer = {"", "The database is kept in a temporary folder, and the commands to try on it",
                "are printed."})
final class ProjectionsDemoCommand implements Callable<Integer> {

    private static final Duration WAIT = Duration.ofSeconds(60);

    private static final String FINANCIAL = "SELECT canonical_type AS source, canonical_pk AS key, kind, amount, memo,"
            + " happened_on FROM financial_transaction ORDER BY happened_on, canonical_type";
    private static final String INVOICES = "SELECT i.id, c.name AS customer, i.total_amount AS \"total_amount (computed)\""
            + " FROM invoice i JOIN customer c ON c.id = i.customer_id ORDER BY i.id";
    private static final String JOURNAL = "SELECT canonical_pk AS key, entry_date, description, amount"
            + " FROM journal_entry ORDER BY canonical_pk";
    private static final String ACCOUNTS = "SELECT canonical_pk AS key, account, debit, credit FROM account_transaction"
            + " ORDER BY canonical_pk, debit IS NULL, account";

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path dir = DemoCommand.newFolder("annals-demo-projections");
        Path file = dir.resolve(WaveExample.FILE);
        long started = System.nanoTime();
        boolean done = false;
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().dataDirectory(dir.resolve("postgres")).start()) {
            String url = pg.jdbcUrl("postgres");
            out.println("1. Embedded PostgreSQL " + pg.majorVersion() + " is up: " + url);
            try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
                for (String sql : WaveExample.SCHEMA) s.execute(sql);
            }
            Files.writeString(file, WaveExample.json());
            List<Projection> all = new ArrayList<>();
            all.add(WaveExample.financialTransactions());
            all.addAll(ProjectionFile.read(file));
            out.println("2. Created the canonical tables customer, income, expense, invoice, invoice_item and");
            out.println("   invoice_payment, and the read tables financial_transaction, journal_entry and account_transaction.");
            out.println("   Projections: financial_transaction from income, expense and invoice_payment, mapped in Java;");
            out.println("   invoice_total (invoice.total_amount), journal_entry and account_transaction from invoice,");
            out.println("   invoice_item and customer, in SQL, declared in " + file);

            CaptureOptions options = CaptureOptions.builder(url).heartbeatInterval(Duration.ofSeconds(1)).build();
            Projections projections = Projections.over(ChangeLog.at(url)).pollInterval(Duration.ofMillis(200)).build();
            try (CaptureWorker worker = CaptureWorker.start(options);
                 Running running = Running.start(projections, all)) {
                out.println("3. Capture and the four projections are running; nothing else writes the read tables.");
                execute(pg, "INSERT INTO customer VALUES (1, 'Ada'), (2, 'Grace')",
                        "INSERT INTO income VALUES (1, 10, 1200.00, 'consulting', '2026-01-05'), (2, 10, 80.00, 'interest',"
                                + " '2026-01-31')",
                        "INSERT INTO expense VALUES (1, 10, 45.90, 'paper', '2026-01-12')",
                        "INSERT INTO invoice (id, business_id, customer_id, issued_on) VALUES (1, 10, 1, '2026-02-01'),"
                                + " (2, 10, 2, '2026-02-03')",
                        "INSERT INTO invoice_item VALUES (1, 1, 'design', 300.00), (2, 1, 'build', 700.00),"
                                + " (3, 2, 'audit', 420.00)",
                        "INSERT INTO invoice_payment VALUES (1, 1, 10, 500.00, '2026-02-10')");
                running.settle(worker);
                out.println("4. Initial data: 2 incomes, an expense, 2 invoices with 3 items, a payment. The read tables:");
                printAll(pg, out, FINANCIAL, INVOICES, JOURNAL, ACCOUNTS);

                execute(pg, "UPDATE invoice_item SET amount = amount * 1.10", "UPDATE customer SET name = 'Ada Lovelace'"
                        + " WHERE id = 1", "DELETE FROM expense");
                running.settle(worker);
                out.println("5. Direct SQL, past any application code: every item's price up 10% in one bulk UPDATE,");
                out.println("   customer 1 renamed, the expense deleted. The read tables follow:");
                printAll(pg, out, FINANCIAL, INVOICES, JOURNAL, ACCOUNTS);

                execute(pg, "SELECT pg_logical_emit_message(true, '" + ContextMessage.PREFIX + "',"
                                + " '{\"user\": \"mallory\", \"endpoint\": \"POST /admin/ledger/fix\"}')",
                        "UPDATE account_transaction SET debit = 1000.00 WHERE canonical_pk = '{\"id\": 1}'"
                                + " AND account = 'receivable'");
                running.settle(worker);
                out.println("6. A manual edit of a read row: user mallory, at POST /admin/ledger/fix, set invoice 1's");
                out.println("   receivable debit to 1000.00 by hand.");
                Projection accounts = running.named("account_transaction");
                for (Map<String, Object> edit : projections.manualEdits(accounts.name())) {
                    out.println("   Recorded as a manual edit: " + edit.get("operation") + " of " + edit.get("canonical_type")
                            + " " + edit.get("canonical_pk") + " at " + edit.get("position") + ",");
                    out.println("   context " + edit.get("context"));
                }
                out.println("   annals projections verify finds it (exit code 1):");
                verify(out, projections.verify(accounts));

                out.println("7. annals projections repair rewrites exactly that key, under a context the audit trail shows:");
                indented(out, "     ", o -> ProjectionsCommand.Verify.print(o, projections.repair(accounts), 0));
                running.settle(worker);
                out.println("   Verify again, every projection:");
                for (Projection p : all) verify(out, projections.verify(p));
                printAll(pg, out, ACCOUNTS);
            }
            out.printf("8. Capture and projections stopped cleanly; the demo took %.1f s.%n", (System.nanoTime() - started) / 1e9);
            done = true;
        } finally {
            if (!done) DemoCommand.deleteRecursively(dir);
        }
        printNextSteps(out, dir, file);
        return 0;
    }

    /** The projections of the demo, running; closed together. */
    private record Running(List<RunningProjection> all) implements AutoCloseable {
        static Running start(Projections projections, List<Projection> definitions) {
            List<RunningProjection> started = new ArrayList<>();
            try {
                for (Projection p : definitions) started.add(projections.start(p));
            } catch (RuntimeException e) {
                started.forEach(RunningProjection::close);
                throw e;
            }
            return new Running(started);
        }

        /**
         * Waits until everything written so far is in the change log and applied. Twice: the
         * computed column's writes are changes too, which the other projections then read.
         */
        void settle(CaptureWorker worker) {
            for (int round = 0; round < 2; round++) {
                worker.awaitCaughtUp(WAIT);
                for (RunningProjection r : all) {
                    if (!r.awaitCaughtUp(WAIT)) {
                        throw new IllegalStateException("Projection " + r.projection().name() + " did not catch up within "
                                + WAIT.toSeconds() + " s" + r.failure().map(f -> ": " + f.getMessage()).orElse(""));
                    }
                }
            }
        }

        Projection named(String name) {
            return all.stream().map(RunningProjection::projection).filter(p -> p.name().equals(name)).findFirst().orElseThrow();
        }

        @Override
        public void close() {
            all.forEach(RunningProjection::close);
        }
    }

    /** The report as {@code annals projections verify} prints it, indented under the step. */
    private static void verify(PrintWriter out, VerifyReport report) {
        indented(out, "     ", o -> ProjectionsCommand.Verify.print(o, report, 3));
    }

    private static void indented(PrintWriter out, String indent, java.util.function.Consumer<PrintWriter> print) {
        java.io.StringWriter text = new java.io.StringWriter();
        print.accept(new PrintWriter(text));
        text.toString().lines().forEach(l -> out.println(indent + l));
    }

    /** Runs {@code statements} in one transaction. */
    private static void execute(EmbeddedPostgres pg, String... statements) throws Exception {
        try (Connection c = pg.connect("postgres")) {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                for (String sql : statements) s.execute(sql);
            }
            c.commit();
        }
    }

    /** Each query's result as a compact table, indented under the step, titled by its first table. */
    private static void printAll(EmbeddedPostgres pg, PrintWriter out, String... queries) throws Exception {
        try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
            for (String sql : queries) {
                String from = sql.substring(sql.indexOf(" FROM ") + 6).split(" ")[0];
                out.println();
                out.println("   " + from);
                try (ResultSet rs = s.executeQuery(sql)) {
                    ResultSetMetaData md = rs.getMetaData();
                    List<String> headers = new ArrayList<>();
                    for (int i = 1; i <= md.getColumnCount(); i++) headers.add(md.getColumnLabel(i));
                    int[] widths = new int[headers.size()];
                    java.util.Arrays.fill(widths, 40);
                    TablePrinter t = new TablePrinter(headers, widths);
                    while (rs.next()) {
                        String[] row = new String[headers.size()];
                        for (int i = 0; i < row.length; i++) row[i] = rs.getString(i + 1);
                        t.add(row);
                    }
                    indented(out, "   ", t::print);
                }
            }
            out.println();
        }
    }

    /** Command lines that work on the demo's database as it was left; see {@link DemoCommand}. */
    private static void printNextSteps(PrintWriter out, Path dir, Path file) {
        String annals = Output.shellWord(System.getProperty("annals.command", "annals"));
        String dataDir = "--data-dir " + Output.shellWord(dir.resolve("postgres").toAbsolutePath().toString());
        String fileArg = "--file " + Output.shellWord(file.toAbsolutePath().toString());
        out.println("9. The demo's database is kept in " + dir.toAbsolutePath() + ". Try the projections on it:");
        out.println();
        out.println("  # each projection's position, lag and quarantine");
        out.println("  " + annals + " projections status " + dataDir);
        out.println("  # recompute the SQL projections of the file and compare (exit code 1 on differences)");
        out.println("  " + annals + " projections verify " + dataDir + " " + fileArg);
        out.println("  # rebuild journal_entry from a snapshot into a shadow table, swapped in atomically");
        out.println("  " + annals + " projections rebuild " + dataDir + " " + fileArg + " --name journal_entry");
        out.println();
        out.println("To keep them up to date while you change the tables, run capture and the projections:");
        out.println("  " + annals + " run " + dataDir);
        out.println("  " + annals + " projections run " + dataDir + " " + fileArg);
        out.println("(financial_transaction is mapped in Java: the CLI finds such projections with --class-path.)");
        out.println("Remove the folder when done: rm -rf " + Output.shellWord(dir.toAbsolutePath().toString()));
        out.flush();
    }
}
