package io.annals.capture.pipeline;

import io.annals.capture.CaptureException;
import io.annals.capture.CaptureWorker;
import io.annals.capture.assembly.Boundary.StreamedAbort;
import io.annals.capture.assembly.Boundary.StreamedCommit;
import io.annals.capture.source.Connections;
import io.annals.changelog.Position;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * The state the reader, writer and monitor threads share, kept in one place so that each loop can
 * live in its own class while the rules between them stay visible: the reader hands work to the
 * writer through a small bounded queue (so a slow change log holds the stream back instead of
 * filling the heap), {@link #durableLsn()} moves only past what is stored (by the writer after each
 * write, or by the idle reader when nothing is in flight), and the first failure of any thread stops
 * them all.
 */
public final class Pipeline {

    // Operators and tests filter on the facade's logger; the split into classes must not rename it.
    private static final Logger log = LoggerFactory.getLogger(CaptureWorker.class);

    sealed interface Task permits BatchTask, SyncTask, StopTask, CommitTask, AbortTask { }

    record CommitTask(StreamedCommit commit) implements Task { }

    record AbortTask(StreamedAbort abort) implements Task { }

    record BatchTask(Batch batch) implements Task { }

    record SyncTask(long lsn) implements Task { }

    record StopTask() implements Task { }

    private final BlockingQueue<Task> queue = new ArrayBlockingQueue<>(4);
    private final AtomicInteger tasksInFlight = new AtomicInteger();
    private final AtomicLong durableLsn = new AtomicLong();
    private final AtomicLong syncedLsn = new AtomicLong();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    /** Counted down by the reader and the writer; the monitor is a daemon and is not waited for. */
    private final CountDownLatch stopped = new CountDownLatch(2);
    private final Object syncLock = new Object();
    private volatile boolean running = true;
    private volatile long lastMessageNanos = System.nanoTime();
    private volatile Thread reader;

    void enqueue(Task task) throws InterruptedException {
        tasksInFlight.incrementAndGet();
        while (!queue.offer(task, 100, TimeUnit.MILLISECONDS)) {
            if (failure.get() != null) {
                tasksInFlight.decrementAndGet();
                throw new CaptureException("The change-log writer failed", failure.get());
            }
        }
    }

    void enqueueQuietly(Task task) {
        try {
            enqueue(task);
        } catch (InterruptedException | RuntimeException e) {
            // The writer is gone already.
        }
    }

    Task take() throws InterruptedException {
        return queue.take();
    }

    /** Called once a task taken from the queue is done with, whether it succeeded or not. */
    void taskDone() {
        // The reader holds back what arrived while the writer was busy (see StreamReader): wake it
        // now rather than when its idle sleep ends.
        if (tasksInFlight.decrementAndGet() == 0) {
            Thread r = reader;
            if (r != null) LockSupport.unpark(r);
        }
    }

    /** The reader thread, for {@link #taskDone} to wake. */
    void readerStarted(Thread thread) {
        reader = thread;
    }

    /** True when everything handed to the writer has been dealt with. */
    boolean nothingInFlight() {
        return tasksInFlight.get() == 0;
    }

    public long durableLsn() {
        return durableLsn.get();
    }

    /** Only ever moves forward, and only once what lies before {@code lsn} is stored. */
    void advanceDurableLsn(long lsn) {
        durableLsn.accumulateAndGet(lsn, Math::max);
    }

    /** Where streaming starts from, before any thread runs. */
    public void initDurableLsn(long lsn) {
        durableLsn.set(lsn);
    }

    void synced(long lsn) {
        synchronized (syncLock) {
            syncedLsn.accumulateAndGet(lsn, Math::max);
            syncLock.notifyAll();
        }
    }

    /**
     * Waits until the writer has passed the sync marker at {@code lsn}.
     *
     * @throws CaptureException if capture failed, or the timeout passed
     */
    void awaitSynced(long lsn, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (syncLock) {
            while (syncedLsn.get() < lsn) {
                Throwable t = failure.get();
                if (t != null) throw new CaptureException("Capture failed: " + Connections.rootMessage(t), t);
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new CaptureException("Capture did not catch up with " + Position.formatLsn(lsn) + " within " + timeout);
                }
                try {
                    syncLock.wait(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(left), 100)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new CaptureException("Interrupted while waiting for capture to catch up", e);
                }
            }
        }
    }

    void fail(Throwable t) {
        if (failure.compareAndSet(null, t)) {
            log.error("Capture stopped: {}", Connections.rootMessage(t), t);
        }
        running = false;
        synchronized (syncLock) {
            syncLock.notifyAll();
        }
    }

    public Throwable failure() {
        return failure.get();
    }

    public boolean running() {
        return running;
    }

    public void stop() {
        running = false;
    }

    /** Called by the reader and the writer as they end. */
    void threadStopped() {
        stopped.countDown();
    }

    public void awaitStopped() throws InterruptedException {
        stopped.await();
    }

    public boolean awaitStopped(long timeout, TimeUnit unit) throws InterruptedException {
        return stopped.await(timeout, unit);
    }

    /** Something just went through the slot, so the monitor need not send a heartbeat yet. */
    void noteActivity() {
        lastMessageNanos = System.nanoTime();
    }

    long lastMessageNanos() {
        return lastMessageNanos;
    }
}
