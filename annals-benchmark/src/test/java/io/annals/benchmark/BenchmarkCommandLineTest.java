package io.annals.benchmark;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The benchmarks' command lines, without running a benchmark: the option names and defaults the
 * docs quote, {@code --help}, and exit code 2 with a clear message for bad arguments.
 */
class BenchmarkCommandLineTest {

    private record Outcome(int exit, String out, String err) { }

    /** Only for arguments that never reach a benchmark: help, and bad ones. */
    private static Outcome execute(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = CaptureBenchmark.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Outcome(exit, out.toString(), err.toString());
    }

    /** The value picocli gives {@code option} of {@code command} ("" for the capture benchmark) after parsing {@code args}. */
    private static Object value(String command, String option, String... args) {
        CommandLine cl = CaptureBenchmark.commandLine();
        cl.parseArgs(args);
        CommandLine target = command.isEmpty() ? cl : cl.getSubcommands().get(command);
        return target.getCommandSpec().findOption(option).getValue();
    }

    @Test
    void everyBenchmarkHasHelp() {
        for (String command : List.of("", "events", "feed", "history", "changelog", "cqrs")) {
            Outcome help = command.isEmpty() ? execute("--help") : execute(command, "--help");
            assertThat(help.exit()).as(command + " --help: " + help.err()).isZero();
            assertThat(help.out()).contains(("Usage: annals-benchmark/run " + command).trim(), "-h, --help");
        }
        assertThat(execute("-h").out()).contains("Commands:", "events", "feed", "history", "changelog", "run jmh");
    }

    @Test
    void theDefaultsAreTheDocumentedOnes() {
        Map<String, Object> capture = Map.of("--changes", 1_000_000L, "--tx-size", 1_000, "--latency-rate", 5_000,
                "--latency-seconds", 20, "--latency-tx-rows", 1, "--latency-writers", 8, "--poll-millis", 5,
                "--no-bare", false, "--no-latency", false, "--keep", false);
        capture.forEach((option, expected) -> assertThat(value("", option)).as(option).isEqualTo(expected));
        assertThat(value("", "--batch-size")).isNull();
        assertThat(value("", "--data-dir")).isNull();

        assertThat(value("events", "--events", "events")).isEqualTo(200_000L);
        assertThat(value("events", "--seconds", "events")).isEqualTo(15);
        assertThat(value("events", "--rate", "events")).isEqualTo(1_000);
        assertThat(value("feed", "--changes", "feed")).isEqualTo(1_000_000L);
        assertThat(value("feed", "--rate", "feed")).isEqualTo(2_000);
        assertThat(value("feed", "--seconds", "feed")).isEqualTo(20);
        assertThat(value("feed", "--batch-size", "feed")).isEqualTo(1_000);
        assertThat(value("history", "--changes", "history")).isEqualTo(10_000_000L);
        assertThat(value("history", "--samples", "history")).isEqualTo(2_000);
        assertThat(value("history", "--warmup", "history")).isEqualTo(500);
        assertThat(value("history", "--only", "history")).isNull();
        assertThat(value("changelog", "--changes", "changelog")).isEqualTo(1_000_000L);
        assertThat(value("changelog", "--batch-size", "changelog")).isEqualTo(10_000);
    }

    @Test
    void theCommandsTheDocsQuoteParse() {
        assertThat(value("", "--changes", "--changes", "200000")).isEqualTo(200_000L);
        assertThat(value("", "--batch-size", "--batch-size", "1000", "--no-latency")).isEqualTo(1_000);
        assertThat(value("", "--latency-probe", "--changes", "100000", "--no-bare", "--latency-probe")).isEqualTo(true);
        assertThat(value("history", "--data-dir", "history", "--data-dir", "/var/tmp/h", "--reuse", "--only", "b", "--no-explain"))
                .hasToString("/var/tmp/h");
        assertThat(value("changelog", "--drop-index", "changelog", "--drop-index", "changes_row_history_idx"))
                .isEqualTo(List.of("changes_row_history_idx"));
    }

    @Test
    void numbersMayBeGroupedAsPeopleWriteThem() {
        assertThat(value("", "--changes", "--changes", "1_000_000")).isEqualTo(1_000_000L);
        assertThat(value("", "--changes", "--changes=2,500,000")).isEqualTo(2_500_000L);
        assertThat(value("", "--poll-millis", "--poll-millis", "0")).isEqualTo(0);
    }

    @Test
    void pgSettingsOverrideTheDefaultsOneByOne() {
        BenchmarkOptions.Pg pg = new BenchmarkOptions.Pg();
        new CommandLine(pg).parseArgs("--pg", "shared_buffers=2GB", "--pg=work_mem=64MB", "--pg", "search_path=a,b=c");
        assertThat(pg.settings()).containsExactly(Map.entry("shared_buffers", "2GB"), Map.entry("max_wal_size", "4GB"),
                Map.entry("work_mem", "64MB"), Map.entry("search_path", "a,b=c"));
        assertThat(new BenchmarkOptions.Pg().settings()).containsExactly(Map.entry("shared_buffers", "1GB"),
                Map.entry("max_wal_size", "4GB"));
    }

    @Test
    void postgresBinariesTakesAnExistingJarAndDefaultsToTheClasspaths(@TempDir Path dir) throws Exception {
        Path jar = Files.createFile(dir.resolve("postgres-15.jar"));
        assertThat(value("", "--postgres-binaries", "--postgres-binaries", jar.toString())).isEqualTo(jar);
        assertThat(value("writepath", "--postgres-binaries", "writepath", "--postgres-binaries", jar.toString())).isEqualTo(jar);
        assertThat(value("", "--postgres-binaries")).isNull();
    }

    @Test
    void badArgumentsExitTwoWithWhatIsWrong() {
        Map<List<String>, String> cases = Map.ofEntries(
                Map.entry(List.of("--frobnicate"), "Unknown option: '--frobnicate'"),
                Map.entry(List.of("--changes", "0"), "Invalid value for option '--changes': must be at least 1, not 0"),
                Map.entry(List.of("--changes", "lots"), "'lots' is not a whole number"),
                Map.entry(List.of("--tx-size", "3000000000"), "3000000000 is too large"),
                Map.entry(List.of("--pg", "shared_buffers"), "wants NAME=VALUE, not 'shared_buffers'"),
                Map.entry(List.of("--changes"), "Missing required parameter for option '--changes'"),
                Map.entry(List.of("bench"), "Unmatched argument at index 0: 'bench'"),
                Map.entry(List.of("events", "--events", "-5"), "Invalid value for option '--events': must be at least 1, not -5"),
                Map.entry(List.of("events", "--changes", "5"), "Unknown options: '--changes', '5'"),
                Map.entry(List.of("feed", "--rate", "x"), "Invalid value for option '--rate': 'x' is not a whole number"),
                Map.entry(List.of("history", "--changes", "1000"), "must be at least 500000, not 1000"),
                Map.entry(List.of("history", "--only", "xyz"), "takes letters a to f, e.g. --only ab, not 'xyz'"),
                Map.entry(List.of("history", "--reuse"), "--reuse needs the --data-dir of the earlier run"),
                Map.entry(List.of("changelog", "--batch-size", "0"), "must be at least 1, not 0"),
                Map.entry(List.of("--postgres-binaries", "/nowhere/postgres-15.jar"),
                        "Invalid value for option '--postgres-binaries': no file at /nowhere/postgres-15.jar"),
                Map.entry(List.of("history", "--postgres-binaries", "/nowhere/postgres-15.jar"), "no file at /nowhere/postgres-15.jar"),
                Map.entry(List.of("--recvlogical", "/nowhere/pg_recvlogical"),
                        "Invalid value for option '--recvlogical': no executable file at /nowhere/pg_recvlogical"),
                Map.entry(List.of("writepath", "--recvlogical", "/nowhere/pg_recvlogical"), "no executable file at /nowhere/pg_recvlogical"));
        cases.forEach((args, message) -> {
            Outcome bad = execute(args.toArray(String[]::new));
            assertThat(bad.exit()).as(args + ": " + bad.err()).isEqualTo(2);
            // Then the usage, or for a mistyped command picocli's "Did you mean: annals-benchmark/run ...".
            assertThat(bad.err()).as(String.valueOf(args)).contains(message, "annals-benchmark/run");
            assertThat(bad.out()).as(String.valueOf(args)).isEmpty();
        });
    }
}
