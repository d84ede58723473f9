package io.annals.cli;

import io.annals.changelog.Position;
import io.annals.projections.FailurePolicy;
import io.annals.projections.Projection;
import io.annals.projections.ProjectionStatus;
import io.annals.projections.Projections;
import io.annals.projections.QuarantinedChange;
import io.annals.projections.RunningProjection;
import io.annals.projections.VerifyReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code annals projections}: read tables and computed columns kept true to their canonical
 * sources from the change log, a thin layer over {@link Projections}. Java projections come from
 * {@code ProjectionProvider}s on the class path, SQL ones from a JSON file ({@code --file}).
 *
 * <pre>
 * annals projections run --source $DB --file projections.json
 * annals projections verify --source $DB --file projections.json --name journal_entry
 * annals projections quarantine list --source $DB
 * </pre>
 */
@Command(name = "projections", mixinStandardHelpOptions = true,
        description = "Keep read tables and computed columns true to their canonical sources, from the change log:"
                + " run, check and repair projections.",
        subcommands = {ProjectionsCommand.Run.class, ProjectionsCommand.Status.class, ProjectionsCommand.Verify.class,
                ProjectionsCommand.Repair.class, ProjectionsCommand.Rebuild.class, ProjectionsCommand.Quarantine.class},
        footer = {"", "Java projections come from ProjectionProviders on the class path",
                "(--class-path), SQL projections from a JSON file (--file); see",
                "docs/projections.md.", "", "Examples:",
                "  annals projections run --source $DB --file projections.json",
                "  annals projections status --source $DB",
                "  annals projections verify --source $DB --file projections.json",
                "  annals projections rebuild --source $DB --file projections.json \\",
                "      --name journal_entry"})
final class ProjectionsCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        throw new ParameterException(spec.commandLine(), "Missing command: run, status, verify, repair, rebuild or quarantine");
    }

    /** What every projections command has: its spec, and where the databases are. */
    abstract static class Base {
        @Spec
        CommandSpec spec;

        @Mixin
        ProjectionOptions where;
    }

    /** A command that works on definitions (runs or recomputes projections): also where they are found. */
    abstract static class WithDefinitions extends Base {
        @Mixin
        ProjectionOptions.Definitions definitions;
    }

    /** {@code annals projections run}: every projection found, until SIGINT or SIGTERM. */
    @Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Run every projection found (or the one named), applying each change of the change log to"
                    + " the read tables, until stopped. Capture (annals run) must be running for changes to arrive.",
            footer = {"", "Examples:",
                    "  annals projections run --source $DB --file projections.json",
                    "  annals projections run --source $DB --class-path ledger.jar"})
    static final class Run extends WithDefinitions implements Callable<Integer> {
        @Option(names = "--name", paramLabel = "<projection>", description = "Run only this projection.")
        String name;

        @Option(names = "--status-every", paramLabel = "<duration>", defaultValue = "10s",
                description = "How often to print a status line, such as 10s or 1m. Default: ${DEFAULT-VALUE}")
        String statusEvery;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            Duration every = RunCommand.duration(statusEvery);
            if (every.isZero() || every.isNegative()) {
                throw new IllegalArgumentException("--status-every must be positive, such as 10s, not '" + statusEvery + "'");
            }
            List<Projection> found = definitions.load(name);
            ProjectionOptions.Session session = where.open();
            List<RunningProjection> running = new ArrayList<>();
            try {
                // Every definition is checked against the databases (by starting it) before any runs for long.
                for (Projection p : found) running.add(session.projections().start(p));
            } catch (RuntimeException e) {
                running.forEach(RunningProjection::close);
                session.close();
                throw e;
            }
            CountDownLatch stopped = new CountDownLatch(1);
            CountDownLatch closed = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                stopped.countDown();
                // Each stops after the batch in flight, whose transaction commits with its checkpoint or not at all.
                running.forEach(RunningProjection::close);
                session.close();
                closed.countDown();
            }, "annals-projections-shutdown"));
            out.println("Running " + found.size() + " projection(s): "
                    + String.join(", ", found.stream().map(Projection::name).toList()) + ". Press Ctrl-C to stop.");
            out.flush();
            while (!stopped.await(every.toMillis(), TimeUnit.MILLISECONDS)) {
                out.println(statusLine(running));
                out.flush();
            }
            closed.await();
            return 0;
        }

        /** One line: each projection's state and lag, and why it waits if it does. */
        static String statusLine(List<RunningProjection> running) {
            StringBuilder sb = new StringBuilder(LocalTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.SECONDS).toString());
            String sep = " ";
            for (RunningProjection r : running) {
                sb.append(sep).append(r.projection().name()).append(' ').append(r.state().name().toLowerCase(Locale.ROOT))
                        .append(String.format(Locale.ROOT, ", %,d behind (%.1f s)", r.changesBehind(), r.secondsBehind()));
                if (r.state() == RunningProjection.State.HALTED || r.state() == RunningProjection.State.RETRYING) {
                    r.failure().ifPresent(f -> sb.append(": ").append(f.getMessage()));
                }
                sep = "; ";
            }
            return sb.toString();
        }
    }

    /** {@code annals projections status}: each projection's position, lag and quarantine. */
    @Command(name = "status", mixinStandardHelpOptions = true,
            description = "Show each projection that has run on the change log: position, changes and seconds behind,"
                    + " changes in quarantine, and the error it is retrying, if any.")
    static final class Status extends Base implements Callable<Integer> {
        @Override
        public Integer call() {
            try (ProjectionOptions.Session session = where.open()) {
                List<ProjectionStatus> all = session.projections().status();
                PrintWriter out = spec.commandLine().getOut();
                if (all.isEmpty()) {
                    out.println("No projection has run on this change log yet; start them with 'annals projections run'.");
                    return 0;
                }
                table(all).print(out);
                return 0;
            }
        }

        static TablePrinter table(List<ProjectionStatus> all) {
            TablePrinter t = new TablePrinter(List.of("projection", "position", "behind", "seconds", "quarantined", "last error"),
                    new int[]{30, 26, 12, 9, 11, 60});
            for (ProjectionStatus s : all) {
                t.add(s.name(), s.position().map(Position::toString).orElse("nothing yet"),
                        String.format(Locale.ROOT, "%,d", s.changesBehind()),
                        String.format(Locale.ROOT, "%.1f", s.secondsBehind()), String.valueOf(s.quarantined()),
                        s.lastError().orElse(""));
            }
            return t;
        }
    }

    /** {@code annals projections verify}: recompute and compare; exit code 1 on differences. */
    @Command(name = "verify", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Recompute each projection (or the one named) from its canonical sources and compare with"
                    + " its read table: missing, extra and different rows by canonical key. Run it while the"
                    + " projections are caught up: a change not applied yet shows as a difference.",
                    "Exit code 0: consistent; 1: differences were found."})
    static final class Verify extends WithDefinitions implements Callable<Integer> {
        @Option(names = "--name", paramLabel = "<projection>", description = "Verify only this projection.")
        String name;

        @Option(names = "--show", paramLabel = "<n>", defaultValue = "10",
                description = "Differences to print per projection. Default: ${DEFAULT-VALUE}")
        int show;

        @Override
        public Integer call() {
            if (show < 0) throw new IllegalArgumentException("--show " + show + " is negative; give a count, or 0 for none");
            List<Projection> found = definitions.load(name);
            PrintWriter out = spec.commandLine().getOut();
            boolean consistent = true;
            try (ProjectionOptions.Session session = where.open()) {
                for (Projection p : found) {
                    VerifyReport report = session.projections().verify(p);
                    print(out, report, show);
                    consistent &= report.consistent();
                }
            }
            return consistent ? 0 : 1;
        }

        /**
         * The summary, then the first {@code show} differences: for each key, the rows that only a
         * recomputation gives and those only the read table has (the rows both have are counted).
         */
        static void print(PrintWriter out, VerifyReport report, int show) {
            out.println(report.summary());
            int n = 0;
            for (VerifyReport.Difference d : report.examples()) {
                if (n++ == show) {
                    if (show > 0) out.println("  ... (--show for more)");
                    break;
                }
                out.println("  " + d.kind().name().toLowerCase(Locale.ROOT) + " " + d.canonicalType() + " " + d.canonicalPk());
                List<String> onlyExpected = new ArrayList<>(d.expected());
                List<String> onlyActual = new ArrayList<>();
                for (String row : d.actual()) {
                    if (!onlyExpected.remove(row)) onlyActual.add(row);
                }
                for (String row : onlyExpected) out.println("    expected " + row);
                for (String row : onlyActual) out.println("    actual   " + row);
                int same = d.expected().size() - onlyExpected.size();
                if (same > 0) out.println("    (" + same + " other row(s) the same)");
            }
            out.flush();
        }
    }

    /** {@code annals projections repair}: rewrite exactly the keys that differ. */
    @Command(name = "repair", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Verify each projection (or the one named) and rewrite exactly the canonical keys whose read"
                    + " rows differ, under a context that marks the writes as a repair in the audit trail.")
    static final class Repair extends WithDefinitions implements Callable<Integer> {
        @Option(names = "--name", paramLabel = "<projection>", description = "Repair only this projection.")
        String name;

        @Override
        public Integer call() {
            List<Projection> found = definitions.load(name);
            try (ProjectionOptions.Session session = where.open()) {
                for (Projection p : found) Verify.print(spec.commandLine().getOut(), session.projections().repair(p), 0);
            }
            return 0;
        }
    }

    /** {@code annals projections rebuild}: a shadow table from a snapshot, swapped in. */
    @Command(name = "rebuild", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Rebuild a projection's read table: fill a shadow table from a consistent snapshot of the"
                    + " sources, bring it up to date from the change log, and swap it in atomically. The projection"
                    + " goes on from the snapshot, running or not, with no change lost or applied twice. Computed"
                    + " columns are repaired in place instead.")
    static final class Rebuild extends WithDefinitions implements Callable<Integer> {
        @Option(names = "--name", required = true, paramLabel = "<projection>", description = "The projection to rebuild.")
        String name;

        @Override
        public Integer call() {
            Projection p = definitions.load(name).get(0);
            long started = System.nanoTime();
            long rows;
            try (ProjectionOptions.Session session = where.open();
                 ProgressDisplay progress = ProgressDisplay.start(spec.commandLine().getErr(), "rebuild " + name, "keys")) {
                rows = session.projections().rebuild(p, progress);
            }
            spec.commandLine().getOut().printf(Locale.ROOT, "Rebuilt %s: %,d read row(s) written in %.1f s; it goes on"
                    + " from the rebuilt table's position.%n", name, rows, (System.nanoTime() - started) / 1e9);
            return 0;
        }
    }

    /** {@code annals projections quarantine}: the changes mappings failed on. */
    @Command(name = "quarantine", mixinStandardHelpOptions = true,
            description = "List, retry or discard the changes a projection's mapping failed on.",
            subcommands = {Quarantine.ListChanges.class, Quarantine.Retry.class, Quarantine.Discard.class})
    static final class Quarantine implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            throw new ParameterException(spec.commandLine(), "Missing command: list, retry or discard");
        }

        private static final DateTimeFormatter AT = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);

        @Command(name = "list", mixinStandardHelpOptions = true,
                description = "List the quarantined changes, oldest first: position, canonical key, policy, error.")
        static final class ListChanges extends Base implements Callable<Integer> {
            @Option(names = "--name", paramLabel = "<projection>", description = "Only this projection's changes.")
            String name;

            @Override
            public Integer call() {
                PrintWriter out = spec.commandLine().getOut();
                try (ProjectionOptions.Session session = where.open()) {
                    List<QuarantinedChange> all = session.projections().quarantined(name);
                    if (all.isEmpty()) {
                        out.println("The quarantine is empty" + (name == null ? "." : " for projection " + name + "."));
                        return 0;
                    }
                    TablePrinter t = new TablePrinter(List.of("projection", "position", "canonical key", "policy",
                            "quarantined at", "error"), new int[]{24, 26, 30, 16, 19, 200});
                    for (QuarantinedChange q : all) {
                        t.add(q.projection(), q.position().toString(), q.canonicalType() + " " + q.canonicalPk(),
                                q.policy().name().toLowerCase(Locale.ROOT) + (q.discarded() ? " (discarded)" : ""),
                                AT.format(q.quarantinedAt()), q.error());
                    }
                    t.print(out);
                    return 0;
                }
            }
        }

        @Command(name = "retry", mixinStandardHelpOptions = true, sortOptions = false,
                description = {"Retry the changes that projections skipped (policy skip): each one's canonical key is"
                        + " derived again from the source's current state, and leaves the quarantine if that works.",
                        "A halted projection retries its change itself, after each back-off, while it runs."})
        static final class Retry extends WithDefinitions implements Callable<Integer> {
            @Option(names = "--name", paramLabel = "<projection>", description = "Retry only this projection's changes.")
            String name;

            @Override
            public Integer call() {
                List<Projection> found = definitions.load(name);
                PrintWriter out = spec.commandLine().getOut();
                try (ProjectionOptions.Session session = where.open()) {
                    for (Projection p : found) {
                        int fixed = session.projections().retry(p);
                        long failing = 0;
                        long halted = 0;
                        for (QuarantinedChange q : session.projections().quarantined(p.name())) {
                            if (q.discarded()) continue;
                            if (q.policy() == FailurePolicy.SKIP) failing++;
                            else halted++;
                        }
                        out.printf(Locale.ROOT, "%s: %d change(s) retried, %d still failing%s%n", p.name(), fixed, failing,
                                halted == 0 ? "" : ", " + halted + " halted (retried by the running projection)");
                    }
                }
                return 0;
            }
        }

        @Command(name = "discard", mixinStandardHelpOptions = true, sortOptions = false,
                description = "Discard a quarantined change: a halted projection passes it, leaving its canonical key"
                        + " as it was, and it no longer counts as quarantined.",
                footer = {"", "Example:",
                        "  annals projections quarantine discard --source $DB \\",
                        "      --name financial_transaction --position 00000000016B3748.00000003"})
        static final class Discard extends Base implements Callable<Integer> {
            @Option(names = "--name", required = true, paramLabel = "<projection>", description = "The projection.")
            String name;

            @Option(names = "--position", required = true, paramLabel = "<position>",
                    description = "The change's position, as 'quarantine list' shows it.")
            String position;

            @Override
            public Integer call() {
                Position at = Position.parse(position);
                try (ProjectionOptions.Session session = where.open()) {
                    if (!session.projections().discard(name, at)) {
                        throw new IllegalArgumentException("Projection " + name + " has no change at " + at
                                + " in its quarantine; see 'annals projections quarantine list'");
                    }
                }
                spec.commandLine().getOut().println("Discarded the change at " + at + " of projection " + name
                        + ": a halted projection passes it, leaving its canonical key as it was.");
                return 0;
            }
        }
    }
}
