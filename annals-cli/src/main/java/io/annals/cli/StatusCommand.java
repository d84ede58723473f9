package io.annals.cli;

import io.annals.capture.CaptureStatus;
import io.annals.changelog.ChangeLog;
import io.annals.changelog.Position;
import io.annals.changelog.feed.ChangeFeed;
import io.annals.embedded.EmbeddedPostgres;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code annals status}: the slot's position, lag and retained WAL. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Show the capture slot (confirmed position, lag in bytes and seconds, WAL it retains) and"
                + " every change feed of the change log (position, changes and seconds behind, last error).",
        footer = {"", "Examples:",
                "  annals status               # the embedded PostgreSQL in .annals/postgres",
                "  annals status --source 'jdbc:postgresql://db:5432/app?user=annals'"})
final class StatusCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    DatabaseOptions db;

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
            if (status.exists()) spec.commandLine().getOut().print(feeds(ChangeLog.at(db.target == null ? source : db.target)));
            return status.exists() ? 0 : 3;
        } finally {
            if (db.embedded != null) db.embedded.close();
        }
    }

    /** One line per change feed registered in the change log, or a line saying there is none. */
    static String feeds(ChangeLog log) {
        List<ChangeFeed.Status> feeds = ChangeFeed.registered(log);
        StringBuilder sb = new StringBuilder("Change feeds     ").append(feeds.isEmpty() ? "none" : feeds.size()).append('\n');
        for (ChangeFeed.Status f : feeds) {
            sb.append("  ").append(f.name()).append(": at ").append(f.position().map(Position::toString).orElse("nothing yet"))
                    .append(String.format(Locale.ROOT, ", %,d changes and %.1f s behind, reported %s", f.changesBehind(),
                            f.secondsBehind(), f.updatedAt().truncatedTo(ChronoUnit.SECONDS)));
            f.lastError().ifPresent(e -> sb.append(", failing: ").append(e));
            sb.append('\n');
        }
        return sb.toString();
    }
}
