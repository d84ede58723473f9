package io.annals.cli;

import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeLogWriter;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RetentionCommandTest {

    private static long count(String url, String sql) throws Exception {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** A change log with one new order every ten days over the last 240 days. */
    private static String changeLog(String prefix) {
        String url = TestPostgres.newDatabase(prefix);
        ChangeLog log = ChangeLog.at(url);
        log.migrate();
        Instant now = Instant.now();
        List<ChangeRow> rows = new ArrayList<>();
        for (int day = 240; day >= 1; day -= 10) {
            rows.add(new ChangeRow(Position.of(0x100000L - day * 0x100L, 0),
                    1000 - day, now.minus(Duration.ofDays(day)), "app", "public", "orders", Operation.CREATE,
                    "{\"id\": " + day + "}", null, "{\"id\": " + day + "}", List.of("id"), "{}"));
        }
        try (ChangeLogWriter w = log.openWriter("test", c -> { })) {
            w.write(rows, 0);
        }
        return url;
    }

    @Test
    void dryRunPrintsThePlanAndApplyCarriesItOut() throws Exception {
        String url = changeLog("cli_retention");
        long partitions = count(url, "SELECT count(*) FROM annals.change_partitions");

        Cli dry = Cli.run("retention", "--source", url, "--keep", "90d", "--dry-run");
        assertThat(dry.exit()).as(dry.err()).isZero();
        assertThat(dry.out()).contains("Cut-off: ", "Drop changes_", " SNAPSHOT baseline rows", "Dry run: nothing was changed.");
        assertThat(count(url, "SELECT count(*) FROM annals.change_partitions")).isEqualTo(partitions);

        Cli applied = Cli.run("retention", "--source", url, "--keep", "90d");
        assertThat(applied.exit()).as(applied.err()).isZero();
        assertThat(applied.out()).contains("Dropped changes_", "Wrote ").doesNotContain("Dry run");
        long dropped = applied.out().lines().filter(l -> l.startsWith("Dropped ")).count();
        assertThat(dropped).isPositive();
        assertThat(count(url, "SELECT count(*) FROM annals.change_partitions")).isEqualTo(partitions - dropped);
        assertThat(count(url, "SELECT count(*) FROM annals.changes")).as("only creates: every dropped row is in the baseline")
                .isEqualTo(24);

        Cli again = Cli.run("retention", "--source", url, "--keep", "90d");
        assertThat(again.exit()).isZero();
        assertThat(again.out()).contains("Nothing to drop");

        // annals status counts the stored changes over all partitions of the log (its estimate
        // over partitions is tested in CaptureStatusTest)
        TestPostgres.execute(url, "SELECT pg_create_logical_replication_slot('annals_' || current_database(), 'pgoutput')");
        try {
            assertThat(Cli.run("status", "--source", url).out().lines()).contains("Changes stored   24");
        } finally {
            TestPostgres.execute(url, "SELECT pg_drop_replication_slot('annals_' || current_database())");
        }
    }

    @Test
    void badInputGetsAClearErrorAndExitCode() throws Exception {
        Cli malformed = Cli.run("retention", "--source", "jdbc:postgresql://127.0.0.1:1/x", "--keep", "3 months");
        assertThat(malformed.exit()).isEqualTo(2);
        assertThat(malformed.err()).contains("--keep '3 months' is not an age", "90d, 12w, 36h", "P90D");
        Cli zero = Cli.run("retention", "--source", "jdbc:postgresql://127.0.0.1:1/x", "--keep", "0d");
        assertThat(zero.exit()).isEqualTo(2);
        assertThat(zero.err()).contains("--keep must be more than nothing");
        Cli missing = Cli.run("retention", "--source", "jdbc:postgresql://127.0.0.1:1/x");
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).contains("Missing required option: '--keep=<age>'");

        String url = TestPostgres.newDatabase("cli_retention_refused");
        ChangeLog.at(url).migrate();
        try (ChangeLogWriter w = ChangeLog.at(url).openWriter("test", c -> { })) {
            w.write(List.of(new ChangeRow(Position.of(0x1000, 0), 1, Instant.now().minus(Duration.ofDays(200)), "app", "public",
                    "orders", Operation.CREATE, "{\"id\": 1}", null, "{\"id\": 1}", List.of("id"), "{}")), 0);
        }
        Cli refused = Cli.run("retention", "--source", url, "--keep", "30d");
        assertThat(refused.exit()).isEqualTo(2);
        assertThat(refused.err()).contains("annals: Refusing to drop changes before", "the baseline would miss");
        assertThat(count(url, "SELECT count(*) FROM annals.changes")).isEqualTo(1);
    }

    @Test
    void agesParse() {
        assertThat(RetentionCommand.parseAge("90d")).isEqualTo(Duration.ofDays(90));
        assertThat(RetentionCommand.parseAge("12W")).isEqualTo(Duration.ofDays(84));
        assertThat(RetentionCommand.parseAge("36h")).isEqualTo(Duration.ofHours(36));
        assertThat(RetentionCommand.parseAge("P90D")).isEqualTo(Duration.ofDays(90));
        assertThat(RetentionCommand.parseAge("pt36h")).isEqualTo(Duration.ofHours(36));
        assertThatThrownBy(() -> RetentionCommand.parseAge("P3M")).hasMessageContaining("is not an age");
        assertThatThrownBy(() -> RetentionCommand.parseAge("-5d")).hasMessageContaining("is not an age");
    }

    @Test
    void helpShowsExamples() {
        Cli r = Cli.run("retention", "--help");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("Examples:", "--keep", "--dry-run", "annals retention --keep 90d --dry-run");
    }
}
