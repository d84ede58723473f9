package io.annals.cli;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every command's {@code --help} fits the usage width, and picocli's wrapping breaks no word:
 * examples in particular are printed exactly as written, so that they can be copied.
 */
class HelpTextTest {

    @TestFactory
    Stream<DynamicTest> everyCommandsHelpFitsAndBreaksNoWord() {
        List<List<String>> paths = new ArrayList<>();
        collect(AnnalsCommand.commandLine(), new ArrayList<>(), paths);
        assertThat(paths).as("commands found").hasSizeGreaterThan(9);
        return paths.stream().map(path -> DynamicTest.dynamicTest(String.join(" ", path) + " --help", () -> check(path)));
    }

    private static void collect(CommandLine cl, List<String> path, List<List<String>> out) {
        out.add(path);
        for (CommandLine sub : cl.getSubcommands().values()) {
            List<String> subPath = new ArrayList<>(path);
            subPath.add(sub.getCommandName());
            if (!out.contains(subPath)) collect(sub, subPath, out);
        }
    }

    private static void check(List<String> path) {
        List<String> args = new ArrayList<>(path);
        args.add("--help");
        Cli help = Cli.run(args.toArray(String[]::new));
        assertThat(help.exit()).as(help.both()).isZero();

        CommandLine cl = AnnalsCommand.commandLine();
        for (String name : path) cl = cl.getSubcommands().get(name);
        int width = cl.getUsageHelpWidth();
        assertThat(width).as("usage width").isEqualTo(AnnalsCommand.USAGE_WIDTH);
        List<String> lines = help.out().lines().toList();
        assertThat(lines).as("lines of %s", help.out()).isNotEmpty()
                .allSatisfy(line -> assertThat(line.length()).as("length of '%s'", line).isLessThanOrEqualTo(width));

        CommandSpec spec = cl.getCommandSpec();
        for (String footer : spec.usageMessage().footer()) {
            for (String line : footer.split("%n|\n")) {
                assertThat(lines).as("footer line printed as written").contains(line.stripTrailing());
            }
        }
        Set<String> printed = new HashSet<>(Arrays.asList(help.out().split("\\s+")));
        List<String> written = new ArrayList<>(Arrays.asList(spec.usageMessage().header()));
        written.addAll(Arrays.asList(spec.usageMessage().description()));
        for (OptionSpec o : spec.options()) written.addAll(Arrays.asList(o.description()));
        for (CommandLine sub : cl.getSubcommands().values()) {
            // The list of commands shows each one's header, or else the first paragraph of its description.
            String[] header = sub.getCommandSpec().usageMessage().header();
            String[] description = sub.getCommandSpec().usageMessage().description();
            if (header.length > 0) written.add(header[0]);
            else if (description.length > 0) written.add(description[0]);
        }
        for (String text : written) {
            for (String word : text.replace("${DEFAULT-VALUE}", "").split("%n|\\s+")) {
                if (word.isEmpty()) continue;
                assertThat(printed).as("the word '%s' of \"%s\" printed whole", word, text).contains(word);
            }
        }
    }
}
