package io.annals.cli;

import io.annals.embedded.EmbeddedPostgres;
import io.annals.history.AuditTrail;
import io.annals.history.HistoryException;
import io.annals.history.retention.Retention;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** {@code annals retention}: drop change-log partitions past an age, after a baseline at the cut-off. */
@Command(name = "retention", mixinStandardHelpOptions = true,
        description = {"Drop the partitions of the change log older than an age. First, in the same"
                + " transaction, a SNAPSHOT baseline of every row alive at the cut-off is written, so that time travel"
                + " from the cut-off on gives the same answers as before. The cut-off is rounded down to a partition"
                + " boundary (partitions span a month unless configured otherwise): a little more is kept, never less.",
                "Running it again with the same age changes nothing."},
        footer = {"", "Examples:",
                "  annals retention --keep 90d --dry-run  # what would be dropped, baseline size",
                "  annals retention --keep 90d            # keep 90 days, cut-off rounded down",
                "  annals retention --keep 52w \\",
                "      --source 'jdbc:postgresql://db:5432/app?user=annals'",
                "  annals retention --keep P365D \\",
                "      --target 'jdbc:postgresql://audit:5432/log?user=annals'"})
final class RetentionCommand implements Callable<Integer> {

    private static final Pattern AGE = Pattern.compile("(\\d{1,9})\\s*([dwh])");

    @Spec
    CommandSpec spec;

    @Mixin
    DatabaseOptions db;

    @Option(names = "--keep", required = true, paramLabel = "<age>",
            description = "How much history to keep: days (90d), weeks (12w), hours (36h) or an ISO-8601 duration (P90D).")
    String keep;

    @Option(names = "--dry-run", description = "Print the plan (partitions, their changes, the baseline) and change nothing.")
    boolean dryRun;

    @Option(names = "--force", description = "Drop even if a change feed has not read those changes yet (it never will).")
    boolean force;

    @Override
    public Integer call() {
        Duration age = parseAge(keep);
        if (db.source == null && !java.nio.file.Files.exists(db.dataDir.resolve("PG_VERSION"))) {
            throw new IllegalArgumentException("No --source given and no embedded PostgreSQL in " + db.dataDir
                    + ". Pass --source <jdbc-url> (and --target when the change log lives elsewhere), or --data-dir of an embedded one.");
        }
        PrintWriter out = spec.commandLine().getOut();
        boolean wasRunning = db.source != null || EmbeddedPostgres.isRunningIn(db.dataDir);
        String source = db.resolveSource(out, !wasRunning);
        try {
            Retention retention = AuditTrail.of(db.target == null ? source : db.target).retention().keep(age);
            if (force) retention = retention.ignoringFeeds();
            Retention.Plan plan = dryRun ? retention.plan() : retention.apply();
            out.print(plan.describe());
            if (dryRun && !plan.isEmpty()) out.println("Dry run: nothing was changed. Run without --dry-run to apply.");
            out.flush();
            return 0;
        } catch (HistoryException e) {
            spec.commandLine().getErr().println("annals: " + e.getMessage());
            return 2;
        } finally {
            if (db.embedded != null) db.embedded.close();
        }
    }

    /** An age as {@code 90d}, {@code 12w}, {@code 36h} or ISO-8601 ({@code P90D}, {@code PT36H}). */
    static Duration parseAge(String text) {
        String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        Matcher m = AGE.matcher(t);
        Duration age = null;
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            age = switch (m.group(2)) {
                case "d" -> Duration.ofDays(n);
                case "w" -> Duration.ofDays(7 * n);
                default -> Duration.ofHours(n);
            };
        } else if (t.startsWith("p")) {
            try {
                age = Duration.parse(t);
            } catch (DateTimeParseException e) {
                // reported below
            }
        }
        if (age == null) {
            throw new IllegalArgumentException("--keep '" + text + "' is not an age: use a number of days, weeks or hours"
                    + " (90d, 12w, 36h) or an ISO-8601 duration (P90D). Months and years vary in length: say 365d.");
        }
        if (age.isZero()) {
            throw new IllegalArgumentException("--keep must be more than nothing: " + text + " would drop every partition"
                    + " that has ended. Use e.g. 90d.");
        }
        return age;
    }
}
