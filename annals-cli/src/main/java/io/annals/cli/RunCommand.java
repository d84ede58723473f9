package io.annals.cli;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.changelog.Supervisor;
import io.annals.capture.SnapshotMode;
import io.annals.history.AuditTrail;
import io.annals.history.keyframes.Keyframer;
import io.annals.history.keyframes.Keyframes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import io.annals.capture.CaptureException;

/** {@code annals run}: the capture worker, until SIGINT or SIGTERM. */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Capture every row change of the source into the change log (schema annals), until stopped.",
        footer = {"", "Examples:",
                "  annals run                  # embedded PostgreSQL in .annals/postgres",
                "  DB='jdbc:postgresql://db:5432/app?user=annals&password=secret'",
                "  annals run --source $DB",
                "  annals run --source $DB --keyframes-every 200000   # and the keyframer",
                "  annals run --source $DB --exclude 'public.sessions' \\",
                "      --omit-column '*.password' --mask-column '*.ssn'"})
final class RunCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    DatabaseOptions db;

    @Option(names = "--publication", defaultValue = "annals", description = "Publication to stream. Default: ${DEFAULT-VALUE}")
    String publication;

    @Option(names = "--snapshot", defaultValue = "initial", paramLabel = "initial|never",
            description = "On first start, record every existing row as a SNAPSHOT change. Default: ${DEFAULT-VALUE}")
    String snapshot;

    @Option(names = "--include", split = ",", paramLabel = "<schema.table>", description = "Capture only these tables (globs).")
    List<String> include = List.of();

    @Option(names = "--exclude", split = ",", paramLabel = "<schema.table>", description = "Never capture these tables (globs).")
    List<String> exclude = List.of();

    @Option(names = "--omit-column", split = ",", paramLabel = "<table.column>", description = "Never store these columns, e.g. *.password")
    List<String> omit = List.of();

    @Option(names = "--mask-column", split = ",", paramLabel = "<table.column>", description = "Store these columns as \"****\".")
    List<String> mask = List.of();

    @Option(names = "--replica-identity", defaultValue = "default", paramLabel = "default|full",
            description = "full: set REPLICA IDENTITY FULL on captured tables, for complete before images.")
    String replicaIdentity;

    @Option(names = "--batch-size", defaultValue = "10000", description = "Changes per change-log transaction, at most.")
    int batchSize;

    @Option(names = "--linger", defaultValue = "0ms", paramLabel = "<duration>",
            description = "How long a batch gathers changes at least before it is stored, such as 10ms: less CPU per"
                    + " change at a moderate rate, that much more latency. Default: ${DEFAULT-VALUE}")
    String linger;

    @Option(names = "--heartbeat", defaultValue = "10s", description = "Idle time before a heartbeat moves the slot on, such as 10s or 1m. Default: ${DEFAULT-VALUE}")
    String heartbeat;

    @Option(names = "--wal-warning", defaultValue = "1024", paramLabel = "<MiB>", description = "Warn when the slot retains more WAL than this.")
    long walWarningMiB;

    @Option(names = "--keyframes-every", paramLabel = "<changes>",
            description = "Also run the keyframer: a keyframe of a table after every this many changes of it, so that"
                    + " reading it as of any instant starts from the nearest keyframe (see 'annals keyframes'). 0: none.")
    Long keyframesEvery;

    @Option(names = "--keyframes-interval", paramLabel = "<duration>",
            description = "Also run the keyframer: a keyframe of a table that changed once this long has passed since"
                    + " its last one, such as 30m or 3600s.")
    String keyframesInterval;

    @Option(names = "--keyframes-per-row", defaultValue = "4", paramLabel = "<f>",
            description = "With --keyframes-every: a keyframe only once the table has had this many changes per row"
                    + " since its last, which bounds the rows copied to 1/f per change (0: no such condition)."
                    + " Default: ${DEFAULT-VALUE}")
    double keyframesPerRow;

    @Option(names = "--keyframes-keep", defaultValue = "3", paramLabel = "<n>",
            description = "With the keyframer: how many keyframes of each table to keep. Default: ${DEFAULT-VALUE}")
    int keyframesKeep;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        String source = db.resolveSource(out, true);
        CaptureOptions options = CaptureOptions.builder(source)
                .target(db.target)
                .slot(db.slot)
                .publication(publication)
                .snapshot(snapshotMode(snapshot))
                .include(include).exclude(exclude)
                .omitColumns(omit).maskColumns(mask)
                .replicaIdentityFull(replicaIdentity(replicaIdentity))
                .batchSize(batchSize)
                .linger(duration(linger))
                .heartbeatInterval(duration(heartbeat))
                .walWarningBytes(walWarningMiB << 20)
                .build();
        if (keyframesEvery != null || keyframesInterval != null) {
            keyframerSettings(AuditTrail.of(db.target == null ? source : db.target).keyframes()); // bad settings: say so now
        }
        // A failure at the first start (wrong URL, wal_level, privileges) is reported at once, as
        // the exit code and message the user can act on; later ones go to the supervisor.
        CaptureWorker first;
        try {
            first = CaptureWorker.start(options);
        } catch (RuntimeException e) {
            if (db.embedded != null) db.embedded.close();
            throw e;
        }
        PrintWriter err = spec.commandLine().getErr();
        Supervisor<CaptureWorker> capture = CaptureWorker.supervised(options, first, (failure, delay) -> {
            // A lost connection or a restarting server: start again from the checkpoint, losing nothing.
            err.println("annals: capture interrupted (" + failure.getMessage() + "); starting again in "
                    + Math.max(1, delay.toSeconds()) + " s");
            err.flush();
        });
        Keyframer keyframer = startKeyframer(db.target == null ? source : db.target, out);
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (keyframer != null) keyframer.close();
            capture.close();
            if (db.embedded != null) db.embedded.close();
            done.countDown();
        }, "annals-shutdown"));
        out.println("Capturing. Press Ctrl-C to stop.");
        out.flush();
        capture.await();
        if (capture.failure().isPresent()) {
            err.println("annals: capture stopped: " + capture.failure().get().getMessage());
            return 1;
        }
        done.await();
        return 0;
    }

    /**
     * The keyframer beside capture, when asked for. It is a change feed with its own thread and its
     * own retries, so a failure of it never stops capture (its failures go to the feed registry,
     * which 'annals status' shows).
     */
    private Keyframer startKeyframer(String changeLog, PrintWriter out) {
        Keyframer.Builder builder = keyframerSettings(AuditTrail.of(changeLog).keyframes());
        if (builder == null) return null;
        Keyframer keyframer = builder.start();
        out.println("Keyframer running (" + (keyframesEvery != null && keyframesEvery > 0 ? "every " + keyframesEvery
                + " changes of a table" : "") + (keyframesEvery != null && keyframesEvery > 0 && keyframesInterval != null
                ? ", " : "") + (keyframesInterval != null ? "every " + keyframesInterval : "") + ", keeping "
                + keyframesKeep + " per table).");
        return keyframer;
    }

    /** The keyframer's settings from the options (checked before capture starts), or null when none was asked for. */
    Keyframer.Builder keyframerSettings(Keyframes keyframes) {
        if (keyframesEvery == null && keyframesInterval == null) return null;
        Keyframer.Builder b = keyframes.keyframer();
        try {
            b.keep(keyframesKeep).everyChanges(keyframesEvery == null ? 0 : keyframesEvery).changesPerRow(keyframesPerRow);
            if (keyframesInterval != null) b.every(duration(keyframesInterval));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Bad keyframer setting (--keyframes-every, --keyframes-interval,"
                    + " --keyframes-keep): " + e.getMessage(), e);
        }
        if ((keyframesEvery == null || keyframesEvery == 0) && keyframesInterval == null) {
            throw new IllegalArgumentException("--keyframes-every 0 turns the change-count trigger off: give"
                    + " --keyframes-interval too, or leave both out for no keyframer");
        }
        return b;
    }

    static SnapshotMode snapshotMode(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "initial" -> SnapshotMode.INITIAL;
            case "never" -> SnapshotMode.NEVER;
            default -> throw new IllegalArgumentException("--snapshot must be 'initial' or 'never', not '" + s + "'");
        };
    }

    static boolean replicaIdentity(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "default" -> false;
            case "full" -> true;
            default -> throw new IllegalArgumentException("--replica-identity must be 'default' or 'full', not '" + s + "'");
        };
    }

    static Duration duration(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        try {
            if (t.endsWith("ms")) return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            if (t.endsWith("s")) return Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)));
            if (t.endsWith("m")) return Duration.ofMinutes(Long.parseLong(t.substring(0, t.length() - 1)));
            return Duration.ofSeconds(Long.parseLong(t));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("Not a duration: '" + s + "'. Use e.g. 500ms, 10s or 1m");
        }
    }
}
