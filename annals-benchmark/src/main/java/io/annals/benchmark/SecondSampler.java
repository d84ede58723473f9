package io.annals.benchmark;

import com.sun.management.GarbageCollectionNotificationInfo;

import javax.management.ListenerNotFoundException;
import javax.management.Notification;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Notes, second by second during a latency phase, what else went on that can delay a change: this
 * JVM's garbage-collection pauses (from the collectors' notifications, placed at the moment each
 * pause began), the CPU time of its JIT compiler threads (which takes a core from the pipeline), and
 * the share of the machine that other processes used.
 *
 * <pre>{@code
 * try (SecondSampler seconds = new SecondSampler(cpu, threads).start()) {
 *     ... run the load ...
 *     List<SecondSampler.Second> perSecond = seconds.finish();
 * }
 * }</pre>
 */
final class SecondSampler implements AutoCloseable {

    /**
     * One second of the phase: GC pause time that began in it, CPU time of the JIT compiler threads
     * (a lower bound: a compiler thread that ends takes its time with it), other processes' share (0 to 1).
     */
    record Second(double gcPauseMillis, double jitMillis, double otherShare) { }

    /** One GC pause: when it began ({@link System#nanoTime()}), how long it took, which collector and why. */
    record Pause(long startNanos, long millis, String what) { }

    private final CpuSampler cpu;
    private final Map<String, String> threads;
    private final List<Pause> pauses = new ArrayList<>();
    private final List<double[]> seconds = new ArrayList<>();
    private final NotificationListener listener = this::onNotification;
    private final long jvmStartNanos;
    private long startNanos;
    private Thread thread;
    private volatile boolean stop;

    SecondSampler(CpuSampler cpu, Map<String, String> threads) {
        this.cpu = cpu;
        this.threads = threads;
        this.jvmStartNanos = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(ManagementFactory.getRuntimeMXBean().getUptime());
    }

    /** When the sampler started: second 0 of the phase begins here. */
    long startNanos() {
        return startNanos;
    }

    SecondSampler start() {
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (gc instanceof NotificationEmitter e) e.addNotificationListener(listener, null, null);
        }
        startNanos = System.nanoTime();
        thread = Thread.ofPlatform().name("bench-seconds").daemon().start(this::loop);
        return this;
    }

    private void onNotification(Notification n, Object handback) {
        if (!n.getType().equals(GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) return;
        GarbageCollectionNotificationInfo info = GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData());
        // ZGC and Shenandoah report their concurrent cycles apart from their pauses; only pauses stop the pipeline.
        if (info.getGcName().contains("Cycles")) return;
        long start = jvmStartNanos + TimeUnit.MILLISECONDS.toNanos(info.getGcInfo().getStartTime());
        synchronized (pauses) {
            pauses.add(new Pause(start, info.getGcInfo().getDuration(), info.getGcName() + " (" + info.getGcCause() + ")"));
        }
    }

    private void loop() {
        CpuSampler.Snapshot last = cpu.take(threads);
        long next = startNanos;
        while (!stop) {
            next += TimeUnit.SECONDS.toNanos(1);
            long wait = next - System.nanoTime();
            if (wait > 0) LockSupport.parkNanos(wait);
            if (stop) break;
            CpuSampler.Snapshot now = cpu.take(threads);
            CpuSampler.Usage usage = CpuSampler.between(last, now);
            synchronized (seconds) {
                seconds.add(new double[]{Math.max(0, usage.threads().getOrDefault("jit", 0.0)) * 1000, usage.otherShare()});
            }
            last = now;
        }
    }

    /** Stops sampling; returns the whole seconds sampled. */
    List<Second> finish() throws InterruptedException {
        stop = true;
        LockSupport.unpark(thread);
        thread.join();
        removeListeners();
        List<Second> out = new ArrayList<>();
        synchronized (seconds) {
            for (int i = 0; i < seconds.size(); i++) {
                long from = startNanos + TimeUnit.SECONDS.toNanos(i);
                long to = from + TimeUnit.SECONDS.toNanos(1);
                double gc = pauses().stream().filter(p -> p.startNanos() >= from && p.startNanos() < to).mapToLong(Pause::millis).sum();
                out.add(new Second(gc, seconds.get(i)[0], seconds.get(i)[1]));
            }
        }
        return out;
    }

    /** The GC pauses that began after {@link #start}. */
    List<Pause> pauses() {
        synchronized (pauses) {
            return pauses.stream().filter(p -> p.startNanos() >= startNanos).toList();
        }
    }

    private void removeListeners() {
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (gc instanceof NotificationEmitter e) {
                try {
                    e.removeNotificationListener(listener);
                } catch (ListenerNotFoundException ignored) {
                    // Not added to this one.
                }
            }
        }
    }

    /** Stops sampling if {@link #finish} did not, e.g. when the phase failed. */
    @Override
    public void close() {
        if (stop || thread == null) return;
        stop = true;
        LockSupport.unpark(thread);
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        removeListeners();
    }
}
