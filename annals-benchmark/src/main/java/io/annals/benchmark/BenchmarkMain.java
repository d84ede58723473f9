package io.annals.benchmark;

/**
 * The command-line shape every benchmark shares: parse the arguments (a bad one prints the
 * message and the usage, exit code 2), print the usage for {@code --help}, run, and exit with the
 * run's code (1, with the stack trace, when it throws).
 *
 * <pre>{@code
 * BenchmarkMain.exit(args, Settings::parse, Settings::help, Settings.USAGE, s -> new HistoryBenchmark(s).run(args));
 * }</pre>
 */
final class BenchmarkMain {

    interface Parser<S> {
        S parse(String[] args);
    }

    interface Runner<S> {
        int run(S settings) throws Exception;
    }

    private BenchmarkMain() {
    }

    static <S> void exit(String[] args, Parser<S> parser, java.util.function.Predicate<S> help, String usage,
                         Runner<S> runner) {
        S settings;
        try {
            settings = parser.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.err.println();
            System.err.print(usage);
            System.exit(2);
            return;
        }
        if (help.test(settings)) {
            System.out.print(usage);
            return;
        }
        int rc;
        try {
            rc = runner.run(settings);
        } catch (Exception e) {
            System.err.println("The benchmark failed: " + e);
            e.printStackTrace();
            rc = 1;
        }
        System.exit(rc);
    }
}
