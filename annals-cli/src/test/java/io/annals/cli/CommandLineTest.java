package io.annals.cli;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class CommandLineTest {

    /** The demo prints the change log, then commands that work, as printed, on the folder it keeps. */
    @Test
    void demoPrintsTheChangeLogWithContextsThenCommandsThatWorkOnIt() {
        Cli demo = Cli.run("demo");
        assertThat(demo.exit()).as(demo.err()).isZero();
        assertThat(demo.out())
                .contains("SNAPSHOT", "CREATE", "UPDATE", "DELETE", "TRUNCATE")
                .contains("\"user_id\": 42", "\"endpoint\": \"POST /transfers\"")
                .contains("{\"id\": 1, \"done\": true, \"title\": \"write the docs\"}")
                .contains("Capture stopped cleanly");
        List<String> out = demo.out().lines().toList();
        String removal = out.stream().filter(l -> l.startsWith("Remove the folder when done: rm -rf ")).findFirst().orElseThrow();
        Path dir = Path.of(removal.substring(removal.lastIndexOf(' ') + 1));
        try {
            assertThat(dir.resolve("postgres/PG_VERSION")).as("the data folder is kept").exists();
            List<String[]> commands = out.stream().dropWhile(l -> !l.startsWith("7. "))
                    .filter(l -> l.startsWith("  annals ")).map(l -> l.trim().split(" ")).toList();
            assertThat(commands).extracting(c -> c[1]).containsExactly("history", "as-of", "revert");

            Cli history = Cli.run(args(commands.get(0)));
            assertThat(history.exit()).as(history.err()).isZero();
            assertThat(history.out()).contains("write the docs", "celebrate", "DELETE");

            Cli asOf = Cli.run(args(commands.get(1)));
            assertThat(asOf.exit()).as(asOf.err()).isZero();
            assertThat(asOf.out()).contains("celebrate", "3 row(s) of todo");

            Cli revert = Cli.run(args(commands.get(2)));
            assertThat(revert.exit()).as(revert.err()).isZero();
            assertThat(revert.out()).contains("1 change(s) matched, 1 statement(s) applied");
        } finally {
            TestPostgres.deleteQuietly(dir);
        }
    }

    /** A printed command line without its leading "annals"; the demo's need no shell quoting. */
    private static String[] args(String[] commandLine) {
        assertThat(String.join(" ", commandLine)).doesNotContain("'", "\"", "\\");
        return java.util.Arrays.copyOfRange(commandLine, 1, commandLine.length);
    }

    @Test
    void badInputGetsAClearErrorAndExitCode() {
        Cli notPostgres = Cli.run("run", "--source", "jdbc:mysql://localhost/app");
        assertThat(notPostgres.exit()).isEqualTo(2);
        assertThat(notPostgres.err()).contains("is not a PostgreSQL JDBC URL", "jdbc:postgresql://host:5432/database");

        Cli badMode = Cli.run("run", "--source", "jdbc:postgresql://127.0.0.1:1/x", "--snapshot", "sometimes");
        assertThat(badMode.exit()).isEqualTo(2);
        assertThat(badMode.err()).contains("--snapshot must be 'initial' or 'never'");

        Cli nothingListening = Cli.run("run", "--source", "jdbc:postgresql://127.0.0.1:1/x?user=postgres");
        assertThat(nothingListening.exit()).isEqualTo(2);
        assertThat(nothingListening.err()).contains("Cannot reach the source PostgreSQL", "(connection refused): is the server running").doesNotContain("..");

        Cli unknownOption = Cli.run("run", "--frobnicate");
        assertThat(unknownOption.exit()).isEqualTo(2);
        assertThat(unknownOption.err()).contains("Unknown option: '--frobnicate'");
    }

    @Test
    void helpShowsExamples() {
        Cli r = Cli.run("run", "--help");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("Examples:", "--omit-column", "--replica-identity");
    }

    @Test
    void statusReportsTheSlot() throws Exception {
        String url = TestPostgres.newDatabase("cli_status");
        TestPostgres.execute(url, "CREATE TABLE t (id int PRIMARY KEY)");
        Cli missing = Cli.run("status", "--source", url);
        assertThat(missing.exit()).isEqualTo(3);
        assertThat(missing.out()).contains("Slot annals_cli_status", "missing");
        TestPostgres.execute(url, "SELECT pg_create_logical_replication_slot('annals_' || current_database(), 'pgoutput')");
        Cli present = Cli.run("status", "--source", url);
        assertThat(present.exit()).isZero();
        assertThat(present.out()).contains("(inactive)", "Lag", "WAL retained");
    }

    /** A few changes are counted, not estimated from statistics that a new change log lacks. */
    @Test
    void statusCountsTheChangesStored() {
        String url = TestPostgres.newDatabase("cli_status_count");
        TestPostgres.execute(url, "CREATE TABLE t (id int PRIMARY KEY)");
        try (CaptureWorker worker = CaptureWorker.start(CaptureOptions.builder(url).build())) {
            TestPostgres.execute(url, "INSERT INTO t SELECT generate_series(1, 5)");
            worker.awaitCaughtUp(Duration.ofSeconds(30));
        }
        Cli r = Cli.run("status", "--source", url);
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out().lines()).contains("Changes stored   5", "Change feeds     none");

        // A feed that delivered everything, and one whose sink is down.
        io.annals.changelog.ChangeLog log = io.annals.changelog.ChangeLog.at(url);
        try (io.annals.changelog.feed.ChangeFeed ok = io.annals.changelog.feed.ChangeFeed.from(log).named("copy")
                .start(changes -> { });
             io.annals.changelog.feed.ChangeFeed down = io.annals.changelog.feed.ChangeFeed.from(log).named("export")
                     .start(changes -> {
                         throw new IllegalStateException("sink unreachable");
                     })) {
            assertThat(ok.awaitCaughtUp(Duration.ofSeconds(30))).isTrue();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> down.failure().isPresent()
                    && Cli.run("status", "--source", url).out().contains("sink unreachable"));
        }
        Cli feeds = Cli.run("status", "--source", url);
        assertThat(feeds.out()).as(feeds.out()).contains("Change feeds     2", "  copy: at ", ", 0 changes and 0.0 s behind",
                "  export: at nothing yet, 5 changes and", "failing: IllegalStateException: sink unreachable");
    }

    /** SIGTERM stops the worker cleanly: what it captured is stored and confirmed, the slot stays. */
    @Test
    void runStopsCleanlyOnSigterm() throws Exception {
        String url = TestPostgres.newDatabase("cli_sigterm");
        TestPostgres.execute(url, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        try (Child child = Child.start("Capturing.", "run", "--source", url, "--heartbeat", "500ms")) {
            TestPostgres.execute(url, "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 500) g");
            await().atMost(Duration.ofSeconds(30)).until(() -> count(url, "SELECT count(*) FROM annals.changes") == 500);
            child.process().destroy(); // SIGTERM
            assertThat(child.process().waitFor(60, TimeUnit.SECONDS)).as("exits after SIGTERM").isTrue();
            assertThat(child.output()).doesNotContain("Exception");
            assertThat(count(url, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'annals_' || current_database() AND NOT active")).isEqualTo(1);
            assertThat(count(url, "SELECT count(*) FROM pg_replication_slots s, annals.checkpoints c"
                    + " WHERE s.slot_name = c.consumer AND c.consumer = 'annals_' || current_database() AND s.confirmed_flush_lsn >= c.confirmed_lsn"
                    + " AND c.confirmed_lsn IS NOT NULL")).isEqualTo(1);
        }
    }

    /** A lost replication connection is not the end: run starts again from the checkpoint, losing nothing. */
    @Test
    void runRecoversFromALostConnection() throws Exception {
        String url = TestPostgres.newDatabase("cli_recover");
        TestPostgres.execute(url, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        try (Child child = Child.start("Capturing.", "run", "--source", url, "--heartbeat", "500ms")) {
            TestPostgres.execute(url, "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g");
            await().atMost(Duration.ofSeconds(30)).until(() -> count(url, "SELECT count(*) FROM annals.changes") == 100);
            TestPostgres.execute(url, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots"
                    + " WHERE slot_name = 'annals_' || current_database()");
            TestPostgres.execute(url, "INSERT INTO t SELECT g, 'v' || g FROM generate_series(101, 200) g");
            await().atMost(Duration.ofSeconds(60)).until(() -> count(url, "SELECT count(*) FROM annals.changes") == 200);
            assertThat(child.output()).contains("capture interrupted", "starting again");
            assertThat(child.process().isAlive()).isTrue();
            assertThat(count(url, "SELECT count(DISTINCT position) FROM annals.changes")).isEqualTo(200);
        }
    }

    private static long count(String url, String sql) throws Exception {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
