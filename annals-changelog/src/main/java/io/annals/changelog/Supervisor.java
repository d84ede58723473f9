package io.annals.changelog;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Keeps a long-running worker going: starts it, waits for it to end, and when it ended on a
 * failure that may pass by itself (a lost connection, a restarting server), starts it again after
 * a back-off, doubling up to a ceiling; any other failure stops the supervisor with that failure.
 * Workers that keep their checkpoint with their output (capture, change feeds) lose and duplicate
 * nothing across such a restart, so this is the whole of their resilience: the command line only
 * wires it.
 *
 * <pre>{@code
 * try (Supervisor<CaptureWorker> capture = CaptureWorker.supervised(options)) {
 *     capture.await();                       // until closed, or stopped by a failure that will not pass
 *     capture.failure().ifPresent(f -> ...);
 * }
 * }</pre>
 *
 * @param <T> the worker
 */
public final class Supervisor<T extends AutoCloseable> implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Supervisor.class);

    /**
     * How long to wait before a restart: {@code min}, doubling after each failed start, at most
     * {@code max}, and back to {@code min} once a started worker has run.
     *
     * @param min the first wait
     * @param max the longest wait
     */
    public record Backoff(Duration min, Duration max) {
        public Backoff {
            if (min.isNegative() || min.isZero() || max.compareTo(min) < 0) {
                throw new IllegalArgumentException("A back-off needs 0 < min <= max, got " + min + " and " + max);
            }
        }

        /** The wait after {@code current}. */
        public Duration next(Duration current) {
            Duration doubled = current.multipliedBy(2);
            return doubled.compareTo(max) > 0 ? max : doubled;
        }
    }

    /**
     * True when {@code failure} may pass by itself, so that starting again from the checkpoint is
     * the right response: a lost or refused connection (SQLSTATE class 08), a server shutting down
     * or starting (57P01–57P03), a server out of resources (class 53), or an I/O error. A
     * configuration or data error is not: it would fail the same way again.
     */
    public static boolean isRetryable(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SQLException se && se.getSQLState() != null) {
                String state = se.getSQLState();
                if (state.startsWith("08") || state.startsWith("57P") || state.startsWith("53")) return true;
            }
            if (t instanceof IOException) return true;
        }
        return false;
    }

    /** What happened, for a listener: a restart after {@code failure}, in {@code delay}. */
    @FunctionalInterface
    public interface RestartListener extends BiConsumer<Throwable, Duration> {
    }

    private final String name;
    private final Callable<T> starter;
    private final Function<T, Optional<Throwable>> awaitEnd;
    private final Predicate<Throwable> retryable;
    private final Backoff backoff;
    private final RestartListener onRestart;
    private final Thread thread;
    private final CountDownLatch ended = new CountDownLatch(1);
    private volatile T current;
    private volatile Throwable failure;
    private volatile boolean closing;

    private Supervisor(Builder<T> b) {
        this.name = b.name;
        this.starter = b.starter;
        this.awaitEnd = b.awaitEnd;
        this.retryable = b.retryable;
        this.backoff = b.backoff;
        this.onRestart = b.onRestart;
        this.current = b.first;
        this.thread = Thread.ofPlatform().name("annals-supervisor-" + name).daemon(true).unstarted(this::run);
    }

    /**
     * Starts setting up a supervisor of the worker {@code starter} makes.
     *
     * @param name    for logs and the supervisor's thread
     * @param starter starts a fresh worker; may throw (a retryable failure is retried like a worker's)
     */
    public static <T extends AutoCloseable> Builder<T> of(String name, Callable<T> starter) {
        return new Builder<>(Objects.requireNonNull(name, "name"), Objects.requireNonNull(starter, "starter"));
    }

    /** The worker running now, if one is. */
    public Optional<T> current() {
        return Optional.ofNullable(current);
    }

    /** The failure that stopped the supervisor (one that will not pass by itself), if any. */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure);
    }

    /** Whether the supervisor has stopped: closed, or stopped by a failure. */
    public boolean stopped() {
        return ended.getCount() == 0;
    }

    /** Waits until the supervisor stops: closed, or stopped by a failure (see {@link #failure()}). */
    public void await() throws InterruptedException {
        ended.await();
    }

    /** Waits up to {@code timeout} for the supervisor to stop; returns whether it did. */
    public boolean await(Duration timeout) throws InterruptedException {
        return ended.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    private void run() {
        Duration wait = backoff.min();
        try {
            while (!closing) {
                T worker = current;
                try {
                    if (worker == null) worker = starter.call();
                } catch (Exception e) {
                    if (closing) return;
                    if (!retryable.test(e)) {
                        failure = e;
                        return;
                    }
                    restartAfter(e, wait);
                    wait = backoff.next(wait);
                    continue;
                }
                current = worker;
                if (closing) { // close() may have looked for a worker before this one was current
                    closeQuietly(worker);
                    return;
                }
                Optional<Throwable> end = awaitEnd.apply(worker);
                current = null;
                closeQuietly(worker);
                if (closing) return;
                if (end.isEmpty()) return; // it ended by itself, cleanly
                if (!retryable.test(end.get())) {
                    failure = end.get();
                    return;
                }
                wait = backoff.min();
                restartAfter(end.get(), wait);
            }
        } finally {
            ended.countDown();
        }
    }

    private void restartAfter(Throwable cause, Duration wait) {
        log.warn("{} interrupted ({}); starting again in {} ms", name, cause.getMessage(), wait.toMillis());
        onRestart.accept(cause, wait);
        long until = System.nanoTime() + wait.toNanos();
        while (!closing && System.nanoTime() < until) {
            try {
                Thread.sleep(Math.min(50, Math.max(1, TimeUnit.NANOSECONDS.toMillis(until - System.nanoTime()))));
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static void closeQuietly(AutoCloseable worker) {
        try {
            worker.close();
        } catch (Exception e) {
            log.debug("Closing a stopped worker failed: {}", e.getMessage());
        }
    }

    /** Stops the worker and the supervisor, and waits for both. */
    @Override
    public void close() {
        closing = true;
        T worker = current;
        if (worker != null) closeQuietly(worker);
        try {
            if (!ended.await(60, TimeUnit.SECONDS)) thread.interrupt();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "Supervisor[" + name + (failure != null ? ", stopped: " + failure.getMessage() : stopped() ? ", stopped" : "") + "]";
    }

    /**
     * How a supervisor waits for its worker, what it retries and how long it waits.
     *
     * <pre>{@code
     * Supervisor<MyWorker> s = Supervisor.of("exporter", MyWorker::start)
     *         .awaitingEnd(w -> w.awaitFailure())
     *         .backoff(new Supervisor.Backoff(Duration.ofSeconds(1), Duration.ofSeconds(30)))
     *         .start();
     * }</pre>
     */
    public static final class Builder<T extends AutoCloseable> {
        private final String name;
        private final Callable<T> starter;
        private Function<T, Optional<Throwable>> awaitEnd;
        private Predicate<Throwable> retryable = Supervisor::isRetryable;
        private Backoff backoff = new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(30));
        private RestartListener onRestart = (f, d) -> { };
        private T first;

        private Builder(String name, Callable<T> starter) {
            this.name = name;
            this.starter = starter;
        }

        /**
         * How to wait for a worker to end (required): block until it ends, then return its
         * failure, or empty when it ended cleanly (closed).
         */
        public Builder<T> awaitingEnd(Function<T, Optional<Throwable>> awaitEnd) {
            this.awaitEnd = Objects.requireNonNull(awaitEnd, "awaitEnd");
            return this;
        }

        /** Which failures are worth a restart (default {@link Supervisor#isRetryable}). */
        public Builder<T> retryingWhen(Predicate<Throwable> retryable) {
            this.retryable = Objects.requireNonNull(retryable, "retryable");
            return this;
        }

        /** The back-off between restarts (default 1 s doubling to 30 s). */
        public Builder<T> backoff(Backoff backoff) {
            this.backoff = Objects.requireNonNull(backoff, "backoff");
            return this;
        }

        /** Called before each restart, with the failure and the wait (e.g. to tell a user). */
        public Builder<T> onRestart(RestartListener listener) {
            this.onRestart = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /**
         * Supervises {@code running}, a worker the caller started itself (so that a failure to
         * start at all reached the caller), instead of starting the first one.
         */
        public Builder<T> firstWorker(T running) {
            this.first = Objects.requireNonNull(running, "running");
            return this;
        }

        /** Starts the first worker on the supervisor's thread and returns at once. */
        public Supervisor<T> start() {
            if (awaitEnd == null) throw new IllegalStateException("Say how to wait for the worker: awaitingEnd(...)");
            Supervisor<T> s = new Supervisor<>(this);
            s.thread.start();
            return s;
        }
    }
}
