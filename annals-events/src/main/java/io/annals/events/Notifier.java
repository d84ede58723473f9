package io.annals.events;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

/**
 * Sends the {@code NOTIFY} that wakes subscriptions, for appends the store committed itself,
 * from one connection of its own and after the appends committed. Why not in the append's
 * transaction: a notifying transaction holds a database-wide lock through its commit, so
 * concurrent appenders would flush the WAL one after the other instead of together. Here,
 * signals that arrive while a NOTIFY is in flight coalesce into the next one (carrying the
 * newest transaction id), so there is at most one NOTIFY per round trip whatever the append rate.
 */
final class Notifier implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Notifier.class);

    private final DataSource dataSource;
    private final Thread thread;
    private long pending; // newest transaction id signalled and not yet notified; 0: none
    private boolean closed;

    Notifier(DataSource dataSource) {
        this.dataSource = dataSource;
        this.thread = Thread.ofPlatform().name("annals-events-notifier").daemon(true).unstarted(this::run);
        thread.start();
    }

    /** Asks for a NOTIFY announcing {@code transactionId}. Never blocks. */
    synchronized void signal(long transactionId) {
        if (transactionId > pending) {
            pending = transactionId;
            notifyAll();
        }
    }

    private synchronized long next() throws InterruptedException {
        while (pending == 0 && !closed) wait();
        long id = pending;
        pending = 0;
        return closed ? 0 : id;
    }

    private void run() {
        long backoff = 100;
        long id = 0;
        while (true) {
            try (Connection c = dataSource.getConnection();
                 PreparedStatement ps = c.prepareStatement("SELECT pg_notify('" + EventStore.NOTIFY_CHANNEL + "', ?)")) {
                c.setAutoCommit(true);
                backoff = 100;
                for (id = id != 0 ? id : next(); id != 0; id = next()) {
                    ps.setString(1, Long.toString(id));
                    ps.execute();
                }
                return;
            } catch (InterruptedException e) {
                return;
            } catch (SQLException | RuntimeException e) {
                // id is still the one that failed: it is sent first after reconnecting (or superseded by a newer one).
                synchronized (this) {
                    if (closed) return;
                    if (pending > id) id = 0; // a newer signal will be sent instead
                }
                // Subscriptions still poll; a lost notification only delays them by their poll interval.
                log.warn("Could not notify subscriptions of new events ({}); retrying in {} ms", e.getMessage(), backoff);
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException ie) {
                    return;
                }
                backoff = Math.min(backoff * 2, 5_000);
            }
        }
    }

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
