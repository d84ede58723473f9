package io.annals.cli;

import io.annals.capture.CaptureStatus;
import io.annals.changelog.ChangeLog;
import io.annals.changelog.Position;
import io.annals.changelog.feed.ChangeFeed;
import io.annals.embedded.EmbeddedPostgres;
import io.annals.projections.ProjectionStatus;
import io.annals.projections.Projections;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code annals status}: the slot's position, lag and retained WAL; the change feeds and projections. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Show the capture slot (confirmed position, lag in bytes and seconds, WAL it retains),"
                + " every change feed of the change log (position, changes and seconds behind, last error) and"
                + " every projection (likewise, and the changes in its quarantine).",
        footer = {"", "Examples:",
                "  annals status               # the embedded PostgreSQL in .annals/postgres",
                "  annals status --source 'jdbc:postgresql://db:5432/app?user=annals'"})
final class StatusCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    DatabaseOptions db;

    @Option(names = "--output", paramLabel = "<jdbc-url>",
            description = "JDBC URL of the database the projections' read tables live in, for their quarantine."
                    + " Default: the source.")
    String output;

    @Override
    public Integer call() {
        if (db.source == null && !java.nio.file.Files.exists(db.dataDir.resolve("PG_VERSION"))) {
            throw new IllegalArgumentException("No --source given and no embedded PostgreSQL in " + db.dataDir
                    + ". Pass --source <jdbc-url>, or --data-dir of an embedded one.");
        }
        // Leave an embedded server as found: running if it was, stopped if we had to start it.
        boolean wasRunning = db.source != null || EmbeddedPostgres.isRunningIn(db.dataDir);
        String source = db.resolveSource(spec.commandLine().getOut(), !wasRunning);
        try {
            CaptureStatus status = CaptureStatus.read(source, db.target, db.slot);
            spec.commandLine().getOut().println(status.describe());
            if (status.exists()) {
                ChangeLog log = ChangeLog.at(db.target == null ? source : db.target);
                List<ChangeFeed.Status> feeds = ChangeFeed.registered(log);
                spec.commandLine().getOut().print(feeds(feeds));
                spec.commandLine().getOut().print(projections(feeds, () -> Projections.over(log)
                        .source(ChangeLogOptions.dataSource(source, "--source"))
                        .output(ChangeLogOptions.dataSource(output == null ? source : output, "--output")).build()));
            }
            return status.exists() ? 0 : 3;
        } finally {
            if (db.embedded != null) db.embedded.close();
        }
    }

    /** A projection's feed (its own, or its rebuild's): listed under Projections instead. */
    private static boolean isProjection(ChangeFeed.Status feed) {
        return feed.name().startsWith("projection:");
    }

    /** One line per change feed registered in the change log but projections', or a line saying there is none. */
    static String feeds(List<ChangeFeed.Status> registered) {
        List<ChangeFeed.Status> feeds = registered.stream().filter(f -> !isProjection(f)).toList();
        StringBuilder sb = new StringBuilder("Change feeds     ").append(feeds.isEmpty() ? "none" : feeds.size()).append('\n');
        for (ChangeFeed.Status f : feeds) {
            line(sb, f.name(), f.position(), f.changesBehind(), f.secondsBehind(),
                    "reported " + f.updatedAt().truncatedTo(ChronoUnit.SECONDS), f.lastError());
        }
        return sb.toString();
    }

    /**
     * One line per projection that has run on the change log, or a line saying there is none. The
     * projections' quarantine is read (through {@code projections}) only when there are some, since
     * reading it creates its tables in the output database.
     */
    static String projections(List<ChangeFeed.Status> registered, java.util.function.Supplier<Projections> projections) {
        if (registered.stream().noneMatch(StatusCommand::isProjection)) return "Projections      none\n";
        List<ProjectionStatus> all = projections.get().status();
        StringBuilder sb = new StringBuilder("Projections      ").append(all.size()).append('\n');
        for (ProjectionStatus p : all) {
            line(sb, p.name(), p.position(), p.changesBehind(), p.secondsBehind(), p.quarantined() + " quarantined", p.lastError());
        }
        return sb.toString();
    }

    /** A consumer of the change log: where it is, how far behind, and the failure it is retrying. */
    private static void line(StringBuilder sb, String name, Optional<Position> position, long changesBehind,
                             double secondsBehind, String more, Optional<String> lastError) {
        sb.append("  ").append(name).append(": at ").append(position.map(Position::toString).orElse("nothing yet"))
                .append(String.format(Locale.ROOT, ", %,d changes and %.1f s behind, %s", changesBehind, secondsBehind, more));
        lastError.ifPresent(e -> sb.append(", failing: ").append(e));
        sb.append('\n');
    }
}
