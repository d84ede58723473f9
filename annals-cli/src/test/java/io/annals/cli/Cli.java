package io.annals.cli;

import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs {@code annals} in-process, as {@code main} would, capturing its output and exit code.
 *
 * <pre>{@code
 * Cli r = Cli.run("retention", "--help");
 * assertThat(r.exit()).as(r.both()).isZero();
 * }</pre>
 */
record Cli(int exit, String out, String err) {

    static Cli run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = AnnalsCommand.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Cli(exit, out.toString(), err.toString());
    }

    /** Runs command {@code args[0]} with {@code --source url} and the rest of {@code args}. */
    static Cli onSource(String url, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.add(1, "--source");
        all.add(2, url);
        return run(all.toArray(String[]::new));
    }

    /** Everything the command printed, for assertion messages. */
    String both() {
        return "exit " + exit + "\n--- out\n" + out + "--- err\n" + err;
    }
}
