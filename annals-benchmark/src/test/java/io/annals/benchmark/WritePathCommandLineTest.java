package io.annals.benchmark;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The command lines of the write-path benchmarks ({@code writepath}, {@code context}): defaults, help, bad arguments. */
class WritePathCommandLineTest {

    private static Object value(String command, String option, String... args) {
        CommandLine cl = CaptureBenchmark.commandLine();
        cl.parseArgs(args);
        return cl.getSubcommands().get(command).getCommandSpec().findOption(option).getValue();
    }

    private static int execute(StringWriter out, StringWriter err, String... args) {
        CommandLine cl = CaptureBenchmark.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    @Test
    void theDefaultsAreTheDocumentedOnes() {
        Map.of("--seconds", 30, "--rounds", 2, "--scale", 10, "--clients", 4, "--jobs", 2, "--pgbench", "pgbench")
                .forEach((option, expected) -> assertThat(value("writepath", option, "writepath")).as(option).isEqualTo(expected));
        assertThat(value("writepath", "--no-recvlogical", "writepath")).isEqualTo(false);
        assertThat(value("writepath", "--recvlogical", "writepath")).isNull();
        Map.of("--seconds", 5, "--rounds", 4, "--rows", 10_000)
                .forEach((option, expected) -> assertThat(value("context", option, "context")).as(option).isEqualTo(expected));
    }

    @Test
    void helpAndBadArguments() {
        for (String command : new String[] {"writepath", "context"}) {
            StringWriter out = new StringWriter();
            assertThat(execute(out, new StringWriter(), command, "--help")).isZero();
            assertThat(out.toString()).contains("Usage: annals-benchmark/run " + command, "--seconds", "--rounds");
            StringWriter err = new StringWriter();
            assertThat(execute(new StringWriter(), err, command, "--seconds", "0")).isEqualTo(2);
            assertThat(err.toString()).contains("--seconds");
        }
    }
}
