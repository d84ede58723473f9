package io.annals.cli;

import io.annals.capture.CaptureException;
import io.annals.changelog.ChangeLogException;
import io.annals.history.HistoryException;
import io.annals.projections.ProjectionException;
import io.annals.replication.ReplicationException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code annals} command line: a thin layer over the library.
 *
 * <pre>
 * annals run --source jdbc:postgresql://localhost/app?user=annals
 * annals status --source jdbc:postgresql://localhost/app?user=annals
 * annals demo
 * annals history --source jdbc:postgresql://localhost/app?user=annals --table orders --key id=7
 * annals projections run --source jdbc:postgresql://localhost/app?user=annals --file projections.json
 * </pre>
 */
@Command(name = "annals", mixinStandardHelpOptions = true, versionProvider = AnnalsCommand.Version.class,
        description = "Keeps the history of a PostgreSQL database: every row change, with who made it and why.",
        subcommands = {RunCommand.class, StatusCommand.class, DemoCommand.class,
                HistoryCommand.class,
                AsOfCommand.class,
                DiffCommand.class,
                RevertCommand.class,
                RetentionCommand.class,
                KeyframesCommand.class,
                ProjectionsCommand.class,
                CqrsCommand.class,
                CommandLine.HelpCommand.class})
public final class AnnalsCommand {

    /**
     * Columns of every command's usage text: a standard terminal's. Examples and other footer lines
     * are written to fit it, since picocli would otherwise wrap them wherever the column ends.
     */
    static final int USAGE_WIDTH = 80;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new AnnalsCommand());
        // Fixed rather than the terminal's width: examples are laid out for it, and help piped to a
        // file or a pager reads the same.
        cl.setUsageHelpWidth(USAGE_WIDTH);
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof CaptureException || e instanceof HistoryException || e instanceof ProjectionException
                    || e instanceof ChangeLogException || e instanceof ReplicationException || e instanceof IllegalArgumentException || e instanceof IllegalStateException) {
                cmd.getErr().println("annals: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        // One line that says what was wrong and where to look, instead of the whole usage text.
        cl.setParameterExceptionHandler((e, args) -> {
            CommandLine cmd = e.getCommandLine();
            cmd.getErr().println("annals: " + e.getMessage() + " (see '" + cmd.getCommandSpec().qualifiedName() + " --help')");
            return 2;
        });
        return cl;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = AnnalsCommand.class.getPackage().getImplementationVersion();
            return new String[]{"annals " + (v == null ? "development build" : v)};
        }
    }
}
