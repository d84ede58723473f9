package io.annals.cli;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.changelog.ChangeLog;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** {@code annals projections} and {@code annals demo projections} on real PostgreSQL. */
class ProjectionsCommandTest {

    private static final String NOWHERE = "jdbc:postgresql://127.0.0.1:1/x?user=postgres";

    private static final String[] INVOICES = {
            "INSERT INTO customer VALUES (1, 'Ada'), (2, 'Grace')",
            "INSERT INTO invoice (id, business_id, customer_id, issued_on) VALUES (1, 10, 1, '2026-02-01'), (2, 10, 2, '2026-02-03')",
            "INSERT INTO invoice_item VALUES (1, 1, 'design', 300.00), (2, 1, 'build', 700.00), (3, 2, 'audit', 420.00)"};

    /** A database with the Wave tables (and the test ledger's). */
    private static String wave(String prefix) {
        String url = TestPostgres.newDatabase(prefix);
        TestPostgres.execute(url, WaveExample.SCHEMA);
        TestPostgres.execute(url, TestLedger.SCHEMA);
        return url;
    }

    private static Path file(Path dir) throws Exception {
        return Files.writeString(dir.resolve("projections.json"), WaveExample.json());
    }

    private static Cli projections(String command, String url, String... more) {
        List<String> args = new ArrayList<>(Arrays.asList(command.split(" ")));
        args.add(0, "projections");
        args.addAll(List.of("--source", url));
        args.addAll(List.of(more));
        return Cli.run(args.toArray(String[]::new));
    }

    private static long count(String url, String sql) {
        return Long.parseLong(TestPostgres.rows(url, sql).get(0));
    }

    @Test
    void demoShowsBulkSqlInTheReadTablesAndAManualEditFoundAndRepairedThenCommandsThatWork() {
        Cli demo = Cli.run("demo", "projections");
        assertThat(demo.exit()).as(demo.both()).isZero();
        assertThat(demo.out())
                .contains("total_amount (computed)", "Invoice 1 to Ada ", "receivable    | 1000.00")
                .contains("customer 1 renamed", "Invoice 1 to Ada Lovelace | 1100.00", "sales: build  |         | 770.00")
                .contains("Recorded as a manual edit: UPDATE of invoice {\"id\": 1}",
                        "{\"user\": \"mallory\", \"endpoint\": \"POST /admin/ledger/fix\"}")
                .contains("account_transaction: 2 keys checked, 0 missing, 0 extra, 1 different\n",
                        "expected (10,receivable,1100.00,)", "actual   (10,receivable,1000.00,)", "(2 other row(s) the same)")
                .contains("account_transaction: 2 keys checked, 0 missing, 0 extra, 1 different (repaired)")
                .contains("financial_transaction: 3 keys checked, 0 missing, 0 extra, 0 different (consistent)",
                        "invoice_total: 2 keys checked, 0 missing, 0 extra, 0 different (consistent)",
                        "journal_entry: 2 keys checked, 0 missing, 0 extra, 0 different (consistent)",
                        "account_transaction: 2 keys checked, 0 missing, 0 extra, 0 different (consistent)")
                .contains("Capture and projections stopped cleanly");
        List<String> out = demo.out().lines().toList();
        String removal = out.stream().filter(l -> l.startsWith("Remove the folder when done: rm -rf ")).findFirst().orElseThrow();
        Path dir = Path.of(removal.substring(removal.lastIndexOf(' ') + 1));
        try {
            List<String[]> commands = out.stream().dropWhile(l -> !l.startsWith("9. "))
                    .filter(l -> l.startsWith("  annals projections ")).map(l -> l.trim().split(" ")).toList();
            assertThat(commands).extracting(c -> c[2]).containsExactly("status", "verify", "rebuild", "run");

            Cli status = Cli.run(Arrays.copyOfRange(commands.get(0), 1, commands.get(0).length));
            assertThat(status.exit()).as(status.both()).isZero();
            assertThat(status.out()).contains("account_transaction", "financial_transaction", "invoice_total", "journal_entry");

            Cli verify = Cli.run(Arrays.copyOfRange(commands.get(1), 1, commands.get(1).length));
            assertThat(verify.exit()).as(verify.both()).isZero();
            assertThat(verify.out().lines()).hasSize(3).allSatisfy(l -> assertThat(l).endsWith("(consistent)"));

            Cli rebuild = Cli.run(Arrays.copyOfRange(commands.get(2), 1, commands.get(2).length));
            assertThat(rebuild.exit()).as(rebuild.both()).isZero();
            assertThat(rebuild.out()).contains("Rebuilt journal_entry: 2 read row(s) written");
        } finally {
            TestPostgres.deleteQuietly(dir);
        }
    }

    /** verify exits with 1 while the read tables differ from their sources, 0 once repaired; rebuild shows its progress. */
    @Test
    void verifyExitCodesFollowTheDifferencesThatRepairFixes(@TempDir Path dir) throws Exception {
        String url = wave("cli_proj_verify");
        TestPostgres.execute(url, INVOICES);
        ChangeLog.at(url).migrate();
        String file = file(dir).toString();

        Cli empty = projections("verify", url, "--file", file);
        assertThat(empty.exit()).as(empty.both()).isEqualTo(1);
        assertThat(empty.out()).contains("invoice_total: 2 keys checked, 0 missing, 0 extra, 2 different",
                "journal_entry: 2 keys checked, 2 missing, 0 extra, 0 different", "  missing invoice {\"id\": 1}",
                "    expected (10,2026-02-01,\"Invoice 1 to Ada\",1000.00)");

        Cli repair = projections("repair", url, "--file", file);
        assertThat(repair.exit()).as(repair.both()).isZero();
        assertThat(repair.out()).contains("journal_entry: 2 keys checked, 2 missing, 0 extra, 0 different (repaired)");
        Cli repaired = projections("verify", url, "--file", file);
        assertThat(repaired.exit()).as(repaired.both()).isZero();

        TestPostgres.execute(url, "UPDATE journal_entry SET amount = 1 WHERE canonical_pk = '{\"id\": 2}'");
        Cli edited = projections("verify", url, "--file", file, "--name", "journal_entry");
        assertThat(edited.exit()).as(edited.both()).isEqualTo(1);
        assertThat(edited.out()).startsWith("journal_entry: 2 keys checked, 0 missing, 0 extra, 1 different\n")
                .contains("  different invoice {\"id\": 2}", "    expected (10,2026-02-03,\"Invoice 2 to Grace\",420.00)",
                        "    actual   (10,2026-02-03,\"Invoice 2 to Grace\",1.00)");

        Cli rebuild = projections("rebuild", url, "--file", file, "--name", "journal_entry");
        assertThat(rebuild.exit()).as(rebuild.both()).isZero();
        assertThat(rebuild.out()).contains("Rebuilt journal_entry: 2 read row(s) written in ");
        assertThat(rebuild.err()).as("plain progress, not a terminal").contains("rebuild journal_entry: 2 of 2 keys (100%), ")
                .doesNotContain("\r");
        assertThat(projections("verify", url, "--file", file).exit()).isZero();

        Cli unknown = projections("verify", url, "--file", file, "--name", "ledgr");
        assertThat(unknown.exit()).isEqualTo(2);
        assertThat(unknown.err()).isEqualTo("annals: No projection is named ledgr; those found are invoice_total,"
                + " journal_entry, account_transaction\n");

        Files.writeString(dir.resolve("nope.json"), WaveExample.json().replace("\"public.journal_entry\"", "\"public.nope\""));
        Cli noTable = projections("verify", url, "--file", dir.resolve("nope.json").toString(), "--name", "journal_entry");
        assertThat(noTable.exit()).isEqualTo(2);
        assertThat(noTable.err()).startsWith("annals: Projection journal_entry").contains("public.nope").hasLineCount(1);
    }

    /**
     * run keeps the read tables up to date until SIGTERM; status (its own and annals status) shows
     * each projection; a change the Java mapping fails on is quarantined, listed, retried and
     * discarded.
     */
    @Test
    void runAppliesChangesUntilSigtermWhileStatusAndTheQuarantineShowThem(@TempDir Path dir) throws Exception {
        String url = wave("cli_proj_run");
        String file = file(dir).toString();
        String classPath = TestLedger.classPath(dir.resolve("classes")).toString();
        try (CaptureWorker capture = CaptureWorker.start(CaptureOptions.builder(url).heartbeatInterval(Duration.ofMillis(200)).build());
             Child child = Child.start("Press Ctrl-C to stop.", "projections", "run", "--source", url, "--file", file,
                     "--class-path", classPath, "--status-every", "1s")) {
            assertThat(child.output()).contains("Running 4 projection(s): ledger, invoice_total, journal_entry, account_transaction.");
            TestPostgres.execute(url, INVOICES);
            TestPostgres.execute(url, "INSERT INTO income VALUES (1, 10, 5.00, 'fine', '2026-01-01'), (2, 10, 7.00, 'boom', '2026-01-02')");
            await().atMost(Duration.ofSeconds(60)).until(() -> count(url, "SELECT count(*) FROM journal_entry") == 2
                    && count(url, "SELECT count(*) FROM ledger") == 1
                    && count(url, "SELECT count(*) FROM annals.projection_quarantine") == 1);
            capture.awaitCaughtUp(Duration.ofSeconds(30));
            await().atMost(Duration.ofSeconds(30)).until(() -> child.output().contains("; journal_entry running, 0 behind (0.0 s)"));

            Cli status = projections("status", url);
            assertThat(status.exit()).as(status.both()).isZero();
            assertThat(status.out().lines()).anySatisfy(l -> assertThat(l).matches("ledger +\\| [0-9A-F.]{25} \\| 0 +\\| 0\\.0 +\\| 1 *\\|?"));
            Cli annalsStatus = Cli.run("status", "--source", url);
            assertThat(annalsStatus.out()).contains("Change feeds     none", "Projections      4", "  ledger: at ", ", 1 quarantined",
                    "  journal_entry: at ");

            Cli list = projections("quarantine list", url);
            assertThat(list.exit()).as(list.both()).isZero();
            assertThat(list.out()).contains("ledger", "income {\"id\": 2}", "skip", "memo boom is not allowed");
            Cli stillFailing = projections("quarantine retry", url, "--class-path", classPath, "--name", "ledger");
            assertThat(stillFailing.out()).isEqualTo("ledger: 0 change(s) retried, 1 still failing\n");
            TestPostgres.execute(url, "UPDATE income SET memo = 'fixed' WHERE id = 2");
            await().atMost(Duration.ofSeconds(30)).until(() -> count(url, "SELECT count(*) FROM ledger") == 2);
            Cli retried = projections("quarantine retry", url, "--class-path", classPath, "--name", "ledger");
            assertThat(retried.out()).isEqualTo("ledger: 1 change(s) retried, 0 still failing\n");

            TestPostgres.execute(url, "INSERT INTO income VALUES (3, 10, 9.00, 'boom', '2026-01-03')");
            await().atMost(Duration.ofSeconds(30)).until(() -> count(url, "SELECT count(*) FROM annals.projection_quarantine") == 1);
            String position = TestPostgres.rows(url, "SELECT position FROM annals.projection_quarantine").get(0);
            Cli discard = projections("quarantine discard", url, "--name", "ledger", "--position", position);
            assertThat(discard.exit()).as(discard.both()).isZero();
            assertThat(discard.out()).contains("Discarded the change at " + position + " of projection ledger");
            assertThat(projections("quarantine list", url, "--name", "ledger").out()).contains("skip (discarded)");
            Cli again = projections("quarantine discard", url, "--name", "journal_entry", "--position", position);
            assertThat(again.exit()).isEqualTo(2);
            assertThat(again.err()).isEqualTo("annals: Projection journal_entry has no change at " + position
                    + " in its quarantine; see 'annals projections quarantine list'\n");

            child.process().destroy(); // SIGTERM
            assertThat(child.process().waitFor(60, TimeUnit.SECONDS)).as("exits after SIGTERM").isTrue();
            assertThat(child.output()).as("no stack trace, no error").doesNotContain("\tat ", "ERROR");
        }
        assertThat(projections("verify", url, "--file", file).exit()).isZero();
    }

    /** A bad --file is refused before any database is reached, in one line naming the place and the fix. */
    @Test
    void aBadFileGetsOneLineNamingTheProjectionFieldAndFix(@TempDir Path dir) throws Exception {
        String good = WaveExample.json();
        String[][] cases = {
                {"{\"projections\": [", "is not valid JSON at line 1, column "},
                {"[]", "bad.json must be a JSON object with a \"projections\" array, e.g. {\"projections\": [{"},
                {"{\"projections\": []}", "bad.json: projections is empty; declare at least one projection"},
                {good.replaceFirst("\"sources\"", "\"sorces\""),
                        "bad.json: projection invoice_total has an unknown field \"sorces\"; the fields are name, into,"
                                + " shardColumn, intoColumns, sources, dependencies, onFailure"},
                {good.replace("\"onFailure\": \"halt\"", "\"onFailure\": \"retry\""),
                        "bad.json: projection account_transaction \"onFailure\" is 'retry'; use \"halt\""},
                {good.replace("WHERE i.id = ANY(:ids::bigint[])\"\n          ]", "WHERE true\"\n          ]"),
                        "bad.json: Projection journal_entry: the query for public.invoice must select the rows of the"
                                + " canonical keys it is given, as :ids"},
                {good.replace("{\"table\": \"public.invoice_item\", \"keyColumn\": \"invoice_id\"},",
                        "{\"table\": \"public.invoice_item\"},"),
                        "bad.json: projection journal_entry, dependencies[0] needs exactly one of \"keyColumn\""},
                {good.replace("\"name\": \"journal_entry\"", "\"name\": \"invoice_total\""),
                        "bad.json: projection invoice_total is declared twice; each projection needs its own name"},
                {good.replace("\"name\": \"journal_entry\"", "\"name\": \"journal entry\""),
                        "bad.json: projections[1]: A projection needs a name of 1 to 100 letters"},
        };
        Path bad = dir.resolve("bad.json");
        for (String[] c : cases) {
            assertThat(c[0]).as("the case changes the file").isNotEqualTo(good);
            Files.writeString(bad, c[0]);
            Cli r = Cli.run("projections", "verify", "--source", NOWHERE, "--file", bad.toString());
            assertThat(r.exit()).as(r.both()).isEqualTo(2);
            assertThat(r.err()).as(c[1]).startsWith("annals: " + bad).contains(c[1]).hasLineCount(1);
            assertThat(r.out()).isEmpty();
        }
        Cli missing = Cli.run("projections", "run", "--source", NOWHERE, "--file", dir.resolve("none.json").toString());
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).contains("none.json does not exist; give the JSON file that declares the SQL projections")
                .hasLineCount(1);
        Cli nothing = Cli.run("projections", "verify", "--source", NOWHERE);
        assertThat(nothing.exit()).isEqualTo(2);
        assertThat(nothing.err()).isEqualTo("annals: No projections found: give --file <projections.json> for SQL"
                + " projections, or --class-path <jar> with a ProjectionProvider for Java ones\n");
        Cli noCommand = Cli.run("projections");
        assertThat(noCommand.exit()).isEqualTo(2);
        assertThat(noCommand.err()).contains("Missing command: run, status, verify, repair, rebuild or quarantine");
    }

    /** The example's file declares what the demo describes. */
    @Test
    void theWaveFileDeclaresThreeSqlProjections() {
        assertThat(WaveExample.projections()).extracting(p -> p.name() + " " + p.table() + " " + p.sourceTables())
                .containsExactly("financial_transaction public.financial_transaction [public.income, public.expense,"
                                + " public.invoice_payment]",
                        "invoice_total public.invoice [public.invoice]",
                        "journal_entry public.journal_entry [public.invoice]",
                        "account_transaction public.account_transaction [public.invoice]");
    }
}
