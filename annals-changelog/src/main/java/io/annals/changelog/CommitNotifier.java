package io.annals.changelog;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.concurrent.TimeUnit;

/**
 * Sends the {@code NOTIFY} that wakes readers of something a writer committed, from one
 * connection of its own and after the commit, on a daemon thread.
 *
 * <p>Why not {@code NOTIFY} in the writer's own transaction: a notifying transaction holds a
 * database-wide lock through its commit, so concurrent notifying writers would flush the WAL one
 * after the other instead of together, and the writer would pay for the notification in its own
 * latency. Here, signals that arrive while a {@code NOTIFY} is in flight coalesce into the next
 * one (carrying the newest value), so there is at most one {@code NOTIFY} per round trip whatever
 * the commit rate, and at most one per {@link #MIN_GAP_NANOS}: a {@code NOTIFY} is a transaction
 * of its own that PostgreSQL gives a transaction id and flushes to the WAL, so one per change-log
 * batch doubled the number of WAL-flushing commits of a trickle of small batches. Readers must
 * also poll: a notification lost with a connection only delays them by their poll interval.
 *
 * <pre>{@code
 * try (CommitNotifier notifier = new CommitNotifier(dataSource, "annals_changes", "annals-changes-notifier")) {
 *     connection.commit();
 *     notifier.signal(lastId);
 * }
 * }</pre>
 */
public final class CommitNotifier implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CommitNotifier.class);

    private final DataSource dataSource;
    private final String channel;
    private final Thread thread;
    /** The shortest time between two notifications: what it adds, at most, to a reader's wake-up. */
    static final long MIN_GAP_NANOS = 5_000_000;

    private final long minGapNanos;
    private long pending; // newest value signalled and not yet notified; 0: none
    private long lastSentNanos;
    private boolean closed;

    /**
     * Starts the notifier's thread; it connects on the first signal.
     *
     * @param channel    the channel readers {@code LISTEN} on
     * @param threadName the name of its thread, for thread dumps
     */
    public CommitNotifier(DataSource dataSource, String channel, String threadName) {
        this(dataSource, channel, threadName, MIN_GAP_NANOS);
    }

    /** With another gap between notifications: for tests, which need one far above scheduling noise. */
    CommitNotifier(DataSource dataSource, String channel, String threadName, long minGapNanos) {
        this.minGapNanos = minGapNanos;
        this.lastSentNanos = System.nanoTime() - minGapNanos;
        this.dataSource = dataSource;
        this.channel = channel;
        this.thread = Thread.ofPlatform().name(threadName).daemon(true).unstarted(this::run);
        thread.start();
    }

    /** Asks for a {@code NOTIFY} whose payload is {@code value} (positive, increasing). Never blocks. */
    public synchronized void signal(long value) {
        if (value > pending) {
            pending = value;
            notifyAll();
        }
    }

    private synchronized long next() throws InterruptedException {
        while (pending == 0 && !closed) wait();
        // Signals that arrive meanwhile coalesce into this one (signal() needs the monitor, which waiting releases).
        long deadline = lastSentNanos + minGapNanos;
        for (long left = deadline - System.nanoTime(); left > 0 && !closed; left = deadline - System.nanoTime()) {
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        long value = pending;
        pending = 0;
        return closed ? 0 : value;
    }

    private void run() {
        long backoff = 100;
        long value = 0;
        while (true) {
            try {
                if (value == 0) value = next();
                if (value == 0) return;
            } catch (InterruptedException e) {
                return;
            }
            try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT pg_notify(?, ?)")) {
                c.setAutoCommit(true);
                backoff = 100;
                for (; value != 0; value = next()) {
                    ps.setString(1, channel);
                    ps.setString(2, Long.toString(value));
                    ps.execute();
                    lastSentNanos = System.nanoTime();
                }
                return;
            } catch (InterruptedException e) {
                return;
            } catch (SQLException | RuntimeException e) {
                // value is still the one that failed: it is sent first after reconnecting (or superseded by a newer one).
                synchronized (this) {
                    if (closed) return;
                    if (pending > value) value = 0; // a newer signal will be sent instead
                }
                log.warn("Could not notify readers on {} ({}); retrying in {} ms", channel, e.getMessage(), backoff);
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException ie) {
                    return;
                }
                backoff = Math.min(backoff * 2, 5_000);
            }
        }
    }

    /** Stops the thread; a signal not yet sent is dropped (readers poll). */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
