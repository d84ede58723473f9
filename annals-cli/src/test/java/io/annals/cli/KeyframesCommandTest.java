package io.annals.cli;

import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeLogWriter;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class KeyframesCommandTest {

    /** Ten orders, then order 3 deleted. */
    private static String changeLog() {
        String url = TestPostgres.newDatabase("cli_keyframes");
        ChangeLog log = ChangeLog.at(url);
        log.migrate();
        Instant t0 = Instant.parse("2026-11-01T10:00:00Z");
        List<ChangeRow> rows = new ArrayList<>();
        for (int i = 1; i <= 10; i++) {
            rows.add(new ChangeRow(Position.of(0x1000L + i * 0x100L, 0), 100 + i, t0.plusSeconds(i), "app", "public",
                    "orders", Operation.CREATE, "{\"id\": " + i + "}", null, "{\"id\": " + i + "}", List.of("id"), "{}"));
        }
        rows.add(new ChangeRow(Position.of(0x3000L, 0), 200, t0.plusSeconds(60), "app", "public", "orders",
                Operation.DELETE, "{\"id\": 3}", "{\"id\": 3}", null, null, "{}"));
        try (ChangeLogWriter w = log.openWriter("test", c -> { })) {
            w.write(rows, 0);
        }
        return url;
    }

    @Test
    void buildListAndPrune() {
        String url = changeLog();
        Cli none = Cli.run("keyframes", "list", "--source", url);
        assertThat(none.exit()).as(none.err()).isZero();
        assertThat(none.out()).contains("No keyframes yet");

        Cli early = Cli.run("keyframes", "build", "--source", url, "--table", "orders", "--at", "0000000000001500.00000000");
        assertThat(early.exit()).as(early.err()).isZero();
        assertThat(early.out()).contains("Keyframe of public.orders at 0000000000001500.00000000: 5 rows");
        Cli latest = Cli.run("keyframes", "build", "--source", url, "--table", "public.orders");
        assertThat(latest.exit()).as(latest.err()).isZero();
        assertThat(latest.out()).contains("Keyframe of public.orders at 0000000000003000.00000000: 9 rows");

        Cli list = Cli.run("keyframes", "list", "--source", url, "--table", "orders");
        assertThat(list.exit()).as(list.err()).isZero();
        assertThat(list.out()).contains("0000000000001500.00000000", "0000000000003000.00000000", "manual");

        Cli asOf = Cli.run("as-of", "--source", url, "--table", "orders", "--at", "0000000000003000.00000000", "--format", "json");
        assertThat(asOf.exit()).as(asOf.err()).isZero();
        assertThat(asOf.out().lines().toList()).hasSize(9).doesNotContain("{\"id\":3}");

        Cli prune = Cli.run("keyframes", "prune", "--source", url, "--keep", "1");
        assertThat(prune.exit()).as(prune.err()).isZero();
        assertThat(prune.out()).contains("Deleted 1 keyframe;");
        assertThat(TestPostgres.rows(url, "SELECT position FROM annals.keyframes")).containsExactly("0000000000003000.00000000");
    }

    @Test
    void badInputGetsClearErrors() {
        String url = changeLog();
        Cli keyless = Cli.run("keyframes", "build", "--source", url, "--table", "nope");
        assertThat(keyless.exit()).isNotZero();
        assertThat(keyless.err()).contains("Unknown table 'public.nope'");
        Cli prune = Cli.run("keyframes", "prune", "--source", url, "--keep", "-2");
        assertThat(prune.exit()).isNotZero();
        assertThat(prune.err()).contains("Keep at least 0 keyframes per table");
        Cli run = Cli.run("run", "--source", url, "--keyframes-every", "-3");
        assertThat(run.exit()).isNotZero();
        assertThat(run.err()).contains("Bad keyframer setting", "everyChanges must be a positive number");
        Cli zero = Cli.run("run", "--source", url, "--keyframes-every", "0");
        assertThat(zero.exit()).isNotZero();
        assertThat(zero.err()).contains("--keyframes-every 0 turns the change-count trigger off");
    }
}
