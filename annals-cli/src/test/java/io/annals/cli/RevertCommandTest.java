package io.annals.cli;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.context.ContextMessage;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.annals.cli.HistoryCommandsTest.assertError;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code annals revert} against a database whose change log a real capture worker writes, so that
 * a revert's own changes are captured and can be reverted in turn.
 */
class RevertCommandTest {

    private static final String ROWS = "SELECT id || ':' || owner || ':' || balance FROM accounts ORDER BY id";
    private static final Pattern REVERT_TX = Pattern.compile("Revert transaction (\\d+), revert id ([0-9a-f-]+)\\.");

    private String url;
    private CaptureWorker worker;

    @BeforeEach
    void capture() {
        url = TestPostgres.newDatabase("cli_revert");
        TestPostgres.execute(url, "CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric(10,2) NOT NULL)",
                "INSERT INTO accounts VALUES (1, 'ann', 100.00), (2, 'bob', 50.00), (4, 'dan', 7.50)");
        worker = CaptureWorker.start(CaptureOptions.builder(url).heartbeatInterval(Duration.ofMillis(200)).build());
        sync();
    }

    @AfterEach
    void stop() {
        worker.close();
        TestPostgres.execute(url, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                + " WHERE database = current_database() AND NOT active");
    }

    private void sync() {
        worker.awaitCaughtUp(Duration.ofSeconds(60));
    }

    private Cli annals(String... args) {
        return Cli.onSource(url, args);
    }

    @Test
    void dryRunPrintsTheStatementsThenApplyingRevertsAndRevertingTheRevertRestores() {
        List<String> before = rows(ROWS);
        long xid = transaction(null, "UPDATE accounts SET balance = balance - 30 WHERE id = 1",
                "UPDATE accounts SET balance = balance + 30, owner = 'bobby' WHERE id = 2",
                "INSERT INTO accounts VALUES (3, 'cy', 0)", "DELETE FROM accounts WHERE id = 4");
        sync();
        List<String> after = rows(ROWS);
        assertThat(after).containsExactly("1:ann:70.00", "2:bobby:80.00", "3:cy:0.00");

        Cli dry = annals("revert", "--transaction", Long.toString(xid), "--dry-run");
        assertThat(dry.exit()).as(dry.both()).isZero();
        assertThat(dry.out()).startsWith("-- Revert of {\"transaction_id\":" + xid + "}: 4 change(s), 4 statement(s), 0 conflict(s), policy fail\nBEGIN;\n")
                .contains("-- reverts DELETE public.accounts {\"id\":4}", "INSERT INTO \"public\".\"accounts\"",
                        "-- reverts CREATE public.accounts {\"id\":3}", "DELETE FROM \"public\".\"accounts\"",
                        "-- reverts UPDATE public.accounts {\"id\":2}", "UPDATE \"public\".\"accounts\"")
                .endsWith("COMMIT;\n");
        assertThat(rows(ROWS)).as("a dry run writes nothing").isEqualTo(after);

        Cli applied = annals("revert", "--transaction", Long.toString(xid));
        assertThat(applied.exit()).as(applied.both()).isZero();
        assertThat(applied.out()).contains("Reverted {\"transaction_id\":" + xid + "}: 4 change(s) matched, 4 statement(s) applied, 0 skipped.");
        assertThat(rows(ROWS)).isEqualTo(before);
        Matcher m = REVERT_TX.matcher(applied.out());
        assertThat(m.find()).as(applied.out()).isTrue();
        // A line to paste as it is: the same database, quoted for the shell (the URL holds '?').
        assertThat(applied.out()).contains("To undo this revert: annals revert --source " + Output.shellWord(url)
                + " --transaction " + m.group(1));
        sync();

        // The revert is in the audit trail under its own context...
        Cli trail = annals("history", "--context", "annals.revert_id=" + m.group(2), "--format", "json");
        assertThat(trail.out().lines().count()).as(trail.both()).isEqualTo(4);
        assertThat(trail.out()).contains("\"annals.revert_of\":{\"transaction_id\":" + xid + "}");
        // ...and reverting it restores what it undid.
        Cli again = annals("revert", "--transaction", m.group(1));
        assertThat(again.exit()).as(again.both()).isZero();
        assertThat(rows(ROWS)).isEqualTo(after);
    }

    @Test
    void conflictsRefuseWithExitTwoUnlessSkipped() {
        long renamed = transaction(null, "UPDATE accounts SET owner = 'anna' WHERE id = 1", "UPDATE accounts SET owner = 'bo' WHERE id = 2");
        transaction(null, "UPDATE accounts SET balance = 1 WHERE id = 1");
        sync();
        List<String> now = rows(ROWS);

        Cli refused = annals("revert", "--transaction", Long.toString(renamed));
        assertThat(refused.exit()).as(refused.both()).isEqualTo(2);
        assertThat(refused.err()).startsWith("annals: Revert refused, nothing was written: 1 conflict(s) (policy fail; use skip")
                .contains("CHANGED_LATER: UPDATE public.accounts {\"id\":1}", "the row was changed again by UPDATE")
                .doesNotContain("Exception");
        assertThat(rows(ROWS)).isEqualTo(now);

        Cli dry = annals("revert", "--transaction", Long.toString(renamed), "--dry-run");
        assertThat(dry.exit()).as(dry.both()).isEqualTo(2);
        assertThat(dry.out()).contains("ROLLBACK; -- refused: see the conflicts", "-- conflict (blocks the revert) CHANGED_LATER");
        assertThat(dry.err()).contains("annals: this revert would be refused", "--on-conflict skip");

        Cli skipped = annals("revert", "--transaction", Long.toString(renamed), "--on-conflict", "skip");
        assertThat(skipped.exit()).as(skipped.both()).isZero();
        assertThat(skipped.out()).contains("2 change(s) matched, 1 statement(s) applied, 1 skipped.",
                "skipped CHANGED_LATER: UPDATE public.accounts {\"id\":1}");
        assertThat(rows(ROWS)).containsExactly("1:anna:1.00", "2:bob:50.00", "4:dan:7.50");
    }

    @Test
    void revertsAContextsChangesAndRollsATableBack() {
        Cli start = annals("history", "--table", "accounts", "--format", "json");
        String snapshotEnd = lastPosition(start.out());
        transaction("{\"request_id\": \"r-1\", \"user_id\": 42}", "UPDATE accounts SET balance = 0 WHERE id = 1");
        transaction("{\"request_id\": \"r-2\", \"user_id\": 42}", "INSERT INTO accounts VALUES (5, 'eve', 5)");
        transaction("{\"request_id\": \"r-3\", \"user_id\": 7}", "UPDATE accounts SET owner = 'b' WHERE id = 2");
        sync();

        Cli byUser = annals("revert", "--context", "user_id=42");
        assertThat(byUser.exit()).as(byUser.both()).isZero();
        assertThat(byUser.out()).contains("Reverted {\"context\":{\"user_id\":42}}", "2 change(s) matched, 2 statement(s) applied");
        assertThat(rows(ROWS)).containsExactly("1:ann:100.00", "2:b:50.00", "4:dan:7.50");
        sync();

        Cli rollBack = annals("revert", "--table", "accounts", "--to", snapshotEnd, "--on-conflict", "force");
        assertThat(rollBack.exit()).as(rollBack.both()).isZero();
        assertThat(rows(ROWS)).containsExactly("1:ann:100.00", "2:bob:50.00", "4:dan:7.50");
    }

    @Test
    void badRevertInputExitsTwoAndWritesNothing() {
        List<String> before = rows(ROWS);
        assertError(annals("revert"), "annals: Say what to revert: --transaction <xid>, --context key=value");
        assertError(annals("revert", "--transaction", "999999"), "annals: Nothing to revert: no change in the change log matches {\"transaction_id\":999999}. Nothing was written.");
        assertError(annals("revert", "--context", "request_id=nope", "--dry-run"), "annals: Nothing to revert");
        assertError(annals("revert", "--to", "2026-11-01"), "annals: --to rolls back one table: give it with exactly one --table");
        assertError(annals("revert", "--table", "accounts", "--to", "2000-01-01"), "annals: Cannot roll public.accounts back to 2000-01-01T00:00:00Z");
        assertError(annals("revert", "--table", "acounts", "--to", "2030-01-01"), "annals: Unknown table 'public.acounts'");
        assertError(annals("revert", "--transaction", "1", "--on-conflict", "maybe"), "annals: --on-conflict 'maybe' is not one of fail, skip, force");
        assertError(annals("revert", "--transaction", "1", "--max-changes", "0"), "annals: --max-changes 0 must be at least 1");
        assertError(annals("revert", "--context", "user_id=42", "--since", "noon"), "annals: Not an instant: 'noon'");
        assertThat(rows(ROWS)).isEqualTo(before);
    }

    private static String lastPosition(String jsonLines) {
        List<String> lines = jsonLines.lines().toList();
        Matcher m = Pattern.compile("\"position\":\"([0-9A-F.]+)\"").matcher(lines.get(lines.size() - 1));
        assertThat(m.find()).as(jsonLines).isTrue();
        return m.group(1);
    }

    /** Runs the statements in one transaction, under {@code context} if given, and returns its id. */
    private long transaction(String context, String... statements) {
        List<String> all = new ArrayList<>();
        if (context != null) {
            all.add("SELECT pg_logical_emit_message(true, '" + ContextMessage.PREFIX + "', '" + context.replace("'", "''") + "')");
        }
        all.addAll(List.of(statements));
        return TestPostgres.transaction(url, all.toArray(String[]::new)).xid();
    }

    private List<String> rows(String sql) {
        return TestPostgres.rows(url, sql);
    }

    @Test
    void helpSaysWhatARevertRefusesAndThatTheDryRunIsSafeToRun() {
        Cli r = Cli.run("revert", "--help");
        String help = r.out().replaceAll("\\s+", " ");
        assertThat(help).as(r.out()).contains("cannot be reverted", "masked or omitted column",
                "even force never writes a placeholder or a default", "All statements apply or none",
                "safe to run by hand");
    }
}
