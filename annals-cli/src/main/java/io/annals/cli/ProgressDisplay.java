package io.annals.cli;

import io.annals.projections.Projections;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.Console;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.LongConsumer;

/**
 * A long task's progress, as people and logs want it: on a terminal, a bar with its rate and
 * time left (redrawn in place, on standard error); otherwise, such as in a pipe or a CI log, a
 * plain line every few seconds and one at the end, with no control characters.
 *
 * <pre>{@code
 * try (ProgressDisplay progress = ProgressDisplay.start(err, "rebuild journal_entry", "rows")) {
 *     projections.rebuild(journal, progress);
 * }
 * try (ProgressDisplay progress = ProgressDisplay.start(err, "dump author", "rows", builder.count("author", null))) {
 *     builder.dump("author", null, writer, progress);        // a library callback that reports a count only
 * }
 * }</pre>
 *
 * <p>The total may be unknown (negative: a count and a rate, no time left) or an estimate, which
 * a count that passes it raises and lines call "about".
 */
final class ProgressDisplay implements Projections.Progress, LongConsumer, AutoCloseable {

    private static final long PLAIN_EVERY_NANOS = 5_000_000_000L;

    private final PrintWriter out;
    private final String task;
    private final String unit;
    private final ProgressBar bar;
    private final long started = System.nanoTime();
    private long lastPrinted = started;
    private long done = -1;
    private long total;
    private boolean estimated;
    private boolean printedLast;

    private ProgressDisplay(PrintWriter out, String task, String unit, ProgressBar bar) {
        this.out = out;
        this.task = task;
        this.unit = unit;
        this.bar = bar;
    }

    /** A display for {@code task}, counting {@code unit}s: a bar on a terminal, else lines on {@code out}. */
    static ProgressDisplay start(PrintWriter out, String task, String unit) {
        return start(out, task, unit, -1);
    }

    /** The same, for work whose {@link #accept} calls report a count only, of {@code total} (negative: unknown). */
    static ProgressDisplay start(PrintWriter out, String task, String unit, long total) {
        ProgressBar bar = interactive() ? new ProgressBarBuilder().setTaskName(task).setUnit(" " + unit, 1)
                .setStyle(ProgressBarStyle.ASCII).showSpeed().setInitialMax(total).build() : null;
        ProgressDisplay d = new ProgressDisplay(out, task, unit, bar);
        d.total = total;
        return d;
    }

    /** Takes {@code total} as an estimate from now on (e.g. from the bytes of a file read so far). */
    synchronized void estimate(long total) {
        this.estimated = true;
        this.total = Math.max(total, Math.max(done, 0));
        if (bar != null) bar.maxHint(this.total);
    }

    /** A count only, as the library's callbacks report it, of the total given at the start or estimated. */
    @Override
    public synchronized void accept(long done) {
        update(done, estimated || total >= 0 ? Math.max(total, done) : -1);
    }

    @Override
    public synchronized void update(long done, long total) {
        this.done = done;
        this.total = total;
        if (bar != null) {
            bar.maxHint(total);
            bar.stepTo(done);
            return;
        }
        long now = System.nanoTime();
        if (now - lastPrinted >= PLAIN_EVERY_NANOS) {
            lastPrinted = now;
            printedLast = done == total;
            out.println(line(now));
            out.flush();
        }
    }

    /** Ends the bar, or prints the final line if the last one printed was not it. */
    @Override
    public synchronized void close() {
        if (estimated && done >= 0) { // the work is done: what it came to is the total
            total = done;
            estimated = false;
            if (bar != null) bar.maxHint(done);
        }
        if (bar != null) {
            bar.close();
        } else if (done >= 0 && !printedLast) {
            out.println(line(System.nanoTime()));
            out.flush();
        }
    }

    private String line(long now) {
        double seconds = Math.max(1e-3, (now - started) / 1e9);
        double rate = done / seconds;
        StringBuilder sb = new StringBuilder(task).append(": ");
        if (total < 0) sb.append(String.format(Locale.ROOT, "%,d %s", done, unit));
        else sb.append(String.format(Locale.ROOT, "%,d of %s%,d %s", done, estimated ? "about " : "", total, unit));
        if (total > 0) sb.append(String.format(Locale.ROOT, " (%d%%)", done * 100 / total));
        sb.append(String.format(Locale.ROOT, ", %,.0f %s/s", rate, unit));
        if (done < total && rate > 0) sb.append(String.format(Locale.ROOT, ", about %,.0f s left", (total - done) / rate));
        return sb.toString();
    }

    /**
     * Whether a person is watching: standard input and output are a terminal. From Java 22 on,
     * {@code System.console()} is there even when they are not, and {@code isTerminal()} (called
     * by reflection, since the CLI is built for Java 21) says so.
     */
    private static boolean interactive() {
        Console console = System.console();
        if (console == null) return false;
        try {
            return (Boolean) Console.class.getMethod("isTerminal").invoke(console);
        } catch (ReflectiveOperationException before22) {
            return true;
        }
    }
}
