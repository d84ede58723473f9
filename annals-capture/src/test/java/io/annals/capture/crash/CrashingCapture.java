package io.annals.capture.crash;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.changelog.CrashPoint;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The capture worker as a separate JVM that the crash tests start, crash and restart.
 *
 * <pre>
 * java ... io.annals.capture.crash.CrashingCapture &lt;sourceUrl&gt; &lt;slot&gt; &lt;batchSize&gt; &lt;mode&gt; [timeoutSeconds]
 * </pre>
 *
 * Modes:
 * <ul>
 *   <li>{@code catch-up}: capture until everything committed before the start of the wait is stored,
 *       close the worker and exit {@value #CAUGHT_UP};</li>
 *   <li>{@code run}: capture until killed (the parent sends SIGKILL);</li>
 *   <li>{@code STAGE:N}, e.g. {@code AFTER_COPY:3}: halt the JVM with {@value #HALTED} (no shutdown hooks,
 *       no cleanup: the in-process equivalent of {@code kill -9}) the N-th time {@link CrashPoint.Stage} STAGE
 *       is reached; exits {@value #CRASH_NOT_REACHED} if the worker caught up without reaching it;</li>
 *   <li>{@code STAGED:N}: halt with {@value #HALTED} as soon as at least N changes of a streamed, uncommitted
 *       transaction are staged in {@code annals.streamed_changes} (no crash point marks staging);</li>
 *   <li>{@code STORED:N}: halt with {@value #HALTED} as soon as {@code annals.changes} holds at least N rows
 *       (crash points are not installed during the initial snapshot).</li>
 * </ul>
 * {@code -Dannals.crash.streaming=false} asks the server not to stream large transactions before they commit.
 * Any failure prints its stack trace and exits {@value #FAILED}. The child halts itself when its parent dies,
 * so that a killed test run leaves no worker holding a slot.
 */
public final class CrashingCapture {

    static final int CAUGHT_UP = 0;
    static final int FAILED = 1;
    static final int CRASH_NOT_REACHED = 2;
    static final int ORPHANED = 3;
    static final int HALTED = 137;

    private CrashingCapture() {
    }

    public static void main(String[] args) {
        if (args.length < 4) {
            System.out.println("usage: CrashingCapture <sourceUrl> <slot> <batchSize> <catch-up|run|STAGE:N> [timeoutSeconds]");
            System.exit(FAILED);
        }
        String url = args[0];
        String slot = args[1];
        int batchSize = Integer.parseInt(args[2]);
        String mode = args[3];
        Duration timeout = Duration.ofSeconds(args.length > 4 ? Long.parseLong(args[4]) : 120);
        ProcessHandle.current().parent().ifPresent(parent -> parent.onExit().thenRun(() -> {
            System.out.println("Parent JVM exited; halting");
            System.out.flush();
            Runtime.getRuntime().halt(ORPHANED);
        }));

        CrashPoint.Stage crashStage = null;
        int crashAt = 0;
        if (mode.startsWith("STAGED:")) {
            haltWhen(url, "annals.streamed_changes", Long.parseLong(mode.substring("STAGED:".length())));
        } else if (mode.startsWith("STORED:")) {
            haltWhen(url, "annals.changes", Long.parseLong(mode.substring("STORED:".length())));
        } else if (mode.contains(":")) {
            crashStage = CrashPoint.Stage.valueOf(mode.substring(0, mode.indexOf(':')));
            crashAt = Integer.parseInt(mode.substring(mode.indexOf(':') + 1));
        } else if (!mode.equals("catch-up") && !mode.equals("run")) {
            System.out.println("Unknown mode " + mode);
            System.exit(FAILED);
        }
        Map<CrashPoint.Stage, AtomicInteger> reached = new EnumMap<>(CrashPoint.Stage.class);
        for (CrashPoint.Stage s : CrashPoint.Stage.values()) reached.put(s, new AtomicInteger());
        CrashPoint.Stage stageToCrash = crashStage;
        int occurrence = crashAt;
        CrashPoint point = stage -> {
            int n = reached.get(stage).incrementAndGet();
            if (stage == stageToCrash && n == occurrence) {
                System.out.println("CRASH at " + stage + " #" + n + " on thread " + Thread.currentThread().getName()
                        + "; stages reached: " + reached);
                System.out.flush();
                Runtime.getRuntime().halt(HALTED);
            }
        };

        long start = System.nanoTime();
        System.out.println("Starting capture: slot=" + slot + " batchSize=" + batchSize + " mode=" + mode
                + " maxHeap=" + (Runtime.getRuntime().maxMemory() >> 20) + "MiB pid=" + ProcessHandle.current().pid());
        CaptureWorker worker = null;
        try {
            worker = CaptureWorker.start(CaptureOptions.builder(url).slot(slot).batchSize(batchSize).crashPoint(point)
                    .streaming(Boolean.parseBoolean(System.getProperty("annals.crash.streaming", "true"))).build());
            switch (mode) {
                case "run" -> {
                    worker.await();
                    System.out.println("Worker stopped by itself: " + worker.failure().map(Throwable::toString).orElse("no failure"));
                    worker.failure().ifPresent(t -> t.printStackTrace(System.out));
                    exit(FAILED);
                }
                case "catch-up" -> {
                    worker.awaitCaughtUp(timeout);
                    worker.close();
                    System.out.println("CAUGHT UP in " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)
                            + " ms; stages reached: " + reached + "; " + heapReport());
                    exit(CAUGHT_UP);
                }
                default -> {
                    worker.awaitCaughtUp(timeout);
                    // AFTER_CONFIRM follows the stored batch on the reader thread: give it a moment.
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                    while (System.nanoTime() < deadline) Thread.sleep(50);
                    System.out.println("CRASH POINT NOT REACHED: " + mode + "; stages reached: " + reached);
                    exit(CRASH_NOT_REACHED);
                }
            }
        } catch (Throwable t) {
            System.out.println("FAILED after " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) + " ms: " + t
                    + "; stages reached: " + reached + "; " + heapReport());
            t.printStackTrace(System.out);
            exit(FAILED);
        }
    }

    /** Watches {@code table} from another connection and halts once it holds {@code threshold} rows. */
    private static void haltWhen(String url, String table, long threshold) {
        Thread.ofPlatform().daemon().name("halt-when-" + table).start(() -> {
            try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
                while (true) {
                    try (ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table)) {
                        rs.next();
                        long rows = rs.getLong(1);
                        if (rows >= threshold) {
                            System.out.println("CRASH with " + rows + " rows in " + table);
                            System.out.flush();
                            Runtime.getRuntime().halt(HALTED);
                        }
                    } catch (SQLException e) {
                        if (!"42P01".equals(e.getSQLState())) throw e; // the change log is not created yet
                    }
                    Thread.sleep(5);
                }
            } catch (Exception e) {
                System.out.println("Staging watcher failed: " + e);
                e.printStackTrace(System.out);
                System.out.flush();
                Runtime.getRuntime().halt(FAILED);
            }
        });
    }

    /** Peak use of each heap pool since start, for the bounded-memory test's output. */
    static String heapReport() {
        long sum = 0;
        StringBuilder sb = new StringBuilder();
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() != MemoryType.HEAP || pool.getPeakUsage() == null) continue;
            long peak = pool.getPeakUsage().getUsed();
            sum += peak;
            sb.append(pool.getName()).append('=').append(peak >> 20).append("MiB ");
        }
        return "heap peaks: " + sb + "(sum " + (sum >> 20) + " MiB of max " + (Runtime.getRuntime().maxMemory() >> 20) + " MiB)";
    }

    private static void exit(int code) {
        System.out.flush();
        System.exit(code);
    }
}
