package io.annals.events.subscription;

import io.annals.events.EventStore;
import io.annals.events.EventStoreException;
import io.annals.events.GlobalPosition;
import io.annals.events.RecordedEvent;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A durable, named subscription to all events in the global order: it catches up from its
 * checkpoint, then follows new appends live, woken by {@code LISTEN/NOTIFY} and polling as a
 * fallback. It never skips or reorders an event, whatever the concurrency of appends and
 * rollbacks (see {@link EventStore} for the visibility rule it reads by).
 *
 * <p>Two delivery modes:
 * <ul>
 *   <li>{@link Builder#start(Handler) at least once}: the handler runs outside any transaction and
 *       the checkpoint is stored after each batch; after a crash, the batch in flight is
 *       delivered again. For handlers that are idempotent or talk to other systems.</li>
 *   <li>{@link Builder#startTransactional(TransactionalHandler) exactly once}: the handler gets the
 *       connection of a transaction in which the checkpoint is also written; its database writes
 *       and the checkpoint commit or roll back together, so each event takes effect exactly once.</li>
 * </ul>
 *
 * <pre>{@code
 * try (Subscription balances = Subscription.to(store, "balances")
 *         .startTransactional((event, connection) -> updateBalance(connection, event))) {
 *     ...
 * }
 * }</pre>
 *
 * <p>Only one instance of a name runs at a time, across processes (a session advisory lock):
 * another one waits in {@link State#STANDBY} and takes over when the first stops or dies. A
 * handler that throws stops the subscription ({@link State#FAILED}, see {@link #failure()});
 * the failing event is delivered again on the next start. Lost connections are retried with
 * back-off.
 */
public final class Subscription implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Subscription.class);
    private static final int LOCK_CLASS = 1095648338;
    private static final long SLICE_MILLIS = 100;

    /** What a subscription is doing. */
    public enum State {
        /** Connecting or waiting to retry after a lost connection. */
        STARTING,
        /** Another instance of the same name holds the subscription; this one takes over when it stops. */
        STANDBY,
        /** Delivering events. */
        RUNNING,
        /** A handler threw; see {@link #failure()}. Start again to retry from the checkpoint. */
        FAILED,
        /** Closed. */
        CLOSED
    }

    /** Handles an event, at least once. */
    @FunctionalInterface
    public interface Handler {
        void handle(RecordedEvent event) throws Exception;
    }

    /**
     * Handles an event inside the transaction that also stores the checkpoint. Write with
     * {@code connection}; do not commit, roll back or close it.
     */
    @FunctionalInterface
    public interface TransactionalHandler {
        void handle(RecordedEvent event, Connection connection) throws Exception;
    }

    /** Failure-injection points for crash tests; production code never sets one. */
    enum Stage { BATCH_READ, BEFORE_HANDLE, AFTER_HANDLE, BEFORE_CHECKPOINT, AFTER_CHECKPOINT, AFTER_COMMIT }

    /** Called at each stage; crash tests throw from it. */
    @FunctionalInterface
    interface CrashPoint {
        void reached(Stage stage);
    }

    private final EventStore store;
    private final String name;
    private final int batchSize;
    private final Duration pollInterval;
    private final Handler handler;
    private final TransactionalHandler transactionalHandler;
    private final CrashPoint crashPoint;
    private final GlobalPosition startingAfter;
    private final Thread thread;
    private volatile boolean closing;
    private volatile State state = State.STARTING;
    private volatile Throwable failure;
    private volatile GlobalPosition checkpoint;

    private Subscription(Builder b, Handler handler, TransactionalHandler transactionalHandler) {
        this.store = b.store;
        this.name = b.name;
        this.batchSize = b.batchSize;
        this.pollInterval = b.pollInterval;
        this.handler = handler;
        this.transactionalHandler = transactionalHandler;
        this.crashPoint = b.crashPoint;
        this.startingAfter = b.startingAfter;
        this.thread = Thread.ofPlatform().name("annals-subscription-" + name).daemon(true).unstarted(this::run);
    }

    /**
     * Starts building a subscription named {@code name} (its checkpoint's key) on {@code store}.
     *
     * <pre>{@code Subscription.to(store, "emails").batchSize(100).pollInterval(Duration.ofSeconds(2)).start(mailer::send);}</pre>
     */
    public static Builder to(EventStore store, String name) {
        return new Builder(store, name);
    }

    /** The stored checkpoint of subscription {@code name}: the last event it handled, if any. */
    public static Optional<GlobalPosition> checkpointOf(EventStore store, String name) {
        try (Connection c = store.dataSource().getConnection()) {
            return readCheckpoint(c, name);
        } catch (SQLException e) {
            throw new EventStoreException("Could not read the checkpoint of subscription " + name + ": " + e.getMessage(), e);
        }
    }

    /**
     * Forgets the checkpoint of subscription {@code name} (stop it first), so that its next start
     * replays every event: how a read model is rebuilt after dropping it.
     */
    public static void reset(EventStore store, String name) {
        try (Connection c = store.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("DELETE FROM annals.event_subscriptions WHERE name = ?")) {
            ps.setString(1, name);
            ps.executeUpdate();
        } catch (SQLException e) {
            throw new EventStoreException("Could not reset subscription " + name + ": " + e.getMessage(), e);
        }
    }

    /** The subscription's name. */
    public String name() {
        return name;
    }

    /** What it is doing. */
    public State state() {
        return state;
    }

    /** Why it stopped, if a handler threw. */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure);
    }

    /** The last checkpoint this instance stored or loaded; {@link GlobalPosition#START} before any. */
    public GlobalPosition checkpoint() {
        GlobalPosition c = checkpoint;
        return c == null ? GlobalPosition.START : c;
    }

    /**
     * Waits until the checkpoint reaches {@code position}, e.g. the position of an event just
     * appended (a test's or a demo's way to wait for a read model).
     *
     * @return whether it did within {@code timeout} (false also when the subscription failed)
     */
    public boolean awaitCheckpoint(GlobalPosition position, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (checkpoint().compareTo(position) < 0) {
            if (state == State.FAILED || state == State.CLOSED || System.nanoTime() > deadline) return false;
            Thread.sleep(5);
        }
        return true;
    }

    /** Stops delivering, waits for the batch in progress to finish, and releases the connection. */
    @Override
    public void close() {
        closing = true;
        try {
            thread.join(Duration.ofSeconds(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (state != State.FAILED) state = State.CLOSED;
    }

    private void run() {
        long backoffMillis = 100;
        try {
            while (!closing) {
                try (Connection c = store.dataSource().getConnection()) {
                    try {
                        c.setAutoCommit(true);
                        try (Statement s = c.createStatement()) {
                            s.execute("LISTEN " + EventStore.NOTIFY_CHANNEL);
                        }
                        if (!acquireLeadership(c)) return;
                        checkpoint = readCheckpoint(c, name).orElse(startingAfter);
                        state = State.RUNNING;
                        backoffMillis = 100;
                        follow(c);
                    } finally {
                        release(c);
                    }
                } catch (SQLException | EventStoreException e) {
                    if (closing) return;
                    state = State.STARTING;
                    log.warn("Subscription {} lost its connection ({}); retrying in {} ms", name, e.getMessage(), backoffMillis);
                    sleep(backoffMillis);
                    backoffMillis = Math.min(backoffMillis * 2, 5_000);
                }
            }
        } catch (HandlerFailure f) {
            failure = f.getCause();
            state = State.FAILED;
            log.error("Subscription {} stopped: its handler failed on {}; it resumes from checkpoint {} when started again",
                    name, f.event, checkpoint(), f.getCause());
        } catch (Throwable t) {
            // Includes crash-test failures injected at a stage: the connection closes and the transaction rolls back.
            failure = t;
            state = State.FAILED;
            if (!(t instanceof Error)) log.error("Subscription {} stopped unexpectedly", name, t);
        } finally {
            if (state != State.FAILED) state = State.CLOSED;
        }
    }

    /**
     * Leaves the session as it found it before the connection goes back to a pool, whatever
     * happened: a pooled connection would otherwise keep the lock and the LISTEN, and the next
     * instance would wait in standby forever.
     */
    private void release(Connection c) {
        try {
            if (c.isClosed()) return;
            if (!c.getAutoCommit()) {
                c.rollback();
                c.setAutoCommit(true);
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT pg_advisory_unlock(?, hashtext(?))");
                 Statement s = c.createStatement()) {
                ps.setInt(1, LOCK_CLASS);
                ps.setString(2, name);
                ps.execute();
                s.execute("UNLISTEN " + EventStore.NOTIFY_CHANNEL);
            }
        } catch (SQLException | RuntimeException e) {
            log.debug("Subscription {} could not reset its connection ({}); the server frees it when it closes", name, e.getMessage());
        }
    }

    private boolean acquireLeadership(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_try_advisory_lock(?, hashtext(?))")) {
            ps.setInt(1, LOCK_CLASS);
            ps.setString(2, name);
            while (!closing) {
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (rs.getBoolean(1)) return true;
                }
                state = State.STANDBY;
                sleep(pollInterval.toMillis());
            }
        }
        return false;
    }

    /** Catch up, then wait for notifications (or the poll interval) and read again, until closed. */
    private void follow(Connection c) throws SQLException {
        PGConnection pg = c.unwrap(PGConnection.class);
        long awaitedTransaction = 0; // the newest appending transaction a notification announced
        long retryMillis = 0;
        while (!closing) {
            int n = transactionalHandler != null ? transactionalBatch(c) : atLeastOnceBatch(c);
            if (n >= batchSize) continue;
            long waitMillis = pollInterval.toMillis();
            if (checkpoint().transactionId() < awaitedTransaction) {
                // Announced events not readable yet: an older transaction is still open. It may
                // never notify (it need not append at all), so look again soon, backing off.
                retryMillis = n > 0 || retryMillis == 0 ? 2 : Math.min(retryMillis * 2, waitMillis);
                waitMillis = retryMillis;
            } else {
                retryMillis = 0;
            }
            awaitedTransaction = Math.max(awaitedTransaction, awaitNotification(pg, waitMillis));
        }
    }

    /** Waits up to {@code millis} for notifications; returns the newest transaction they announce, or 0. */
    private long awaitNotification(PGConnection pg, long millis) throws SQLException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (!closing) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) return 0;
            PGNotification[] got = pg.getNotifications((int) Math.max(1, Math.min(left, SLICE_MILLIS)));
            if (got != null && got.length > 0) {
                long newest = 0;
                for (PGNotification notification : got) {
                    try {
                        newest = Math.max(newest, Long.parseLong(notification.getParameter()));
                    } catch (NumberFormatException e) {
                        newest = Long.MAX_VALUE; // someone else's NOTIFY on our channel: just read
                    }
                }
                return newest == Long.MAX_VALUE ? 0 : newest;
            }
        }
        return 0;
    }

    private List<RecordedEvent> readBatch(Connection c) {
        List<RecordedEvent> batch = new ArrayList<>(Math.min(batchSize, 1024));
        store.readAll().after(checkpoint()).maxCount(batchSize).forEach(c, batch::add);
        crashPoint.reached(Stage.BATCH_READ);
        return batch;
    }

    private int atLeastOnceBatch(Connection c) throws SQLException {
        List<RecordedEvent> batch = readBatch(c);
        GlobalPosition handled = null;
        try {
            for (RecordedEvent e : batch) {
                crashPoint.reached(Stage.BEFORE_HANDLE);
                try {
                    handler.handle(e);
                } catch (Exception ex) {
                    throw new HandlerFailure(e, ex);
                }
                crashPoint.reached(Stage.AFTER_HANDLE);
                handled = e.globalPosition();
            }
        } finally {
            // Also after a handler failure: what was handled need not be delivered again.
            if (handled != null) {
                crashPoint.reached(Stage.BEFORE_CHECKPOINT);
                saveCheckpoint(c, handled);
                checkpoint = handled;
                crashPoint.reached(Stage.AFTER_CHECKPOINT);
            }
        }
        return batch.size();
    }

    private int transactionalBatch(Connection c) throws SQLException {
        c.setAutoCommit(false);
        try {
            List<RecordedEvent> batch = readBatch(c);
            if (batch.isEmpty()) {
                c.commit();
                return 0;
            }
            for (RecordedEvent e : batch) {
                crashPoint.reached(Stage.BEFORE_HANDLE);
                try {
                    transactionalHandler.handle(e, c);
                } catch (Exception ex) {
                    throw new HandlerFailure(e, ex);
                }
                crashPoint.reached(Stage.AFTER_HANDLE);
            }
            GlobalPosition last = batch.getLast().globalPosition();
            crashPoint.reached(Stage.BEFORE_CHECKPOINT);
            saveCheckpoint(c, last);
            crashPoint.reached(Stage.AFTER_CHECKPOINT);
            c.commit();
            checkpoint = last;
            crashPoint.reached(Stage.AFTER_COMMIT);
            return batch.size();
        } catch (SQLException | RuntimeException e) {
            safeRollback(c);
            throw e;
        } finally {
            if (!c.isClosed() && !c.getAutoCommit()) {
                safeRollback(c);
                c.setAutoCommit(true);
            }
        }
    }

    private static void safeRollback(Connection c) {
        try {
            if (!c.isClosed() && !c.getAutoCommit()) c.rollback();
        } catch (SQLException ignored) {
            // The connection is gone; the server rolled back already.
        }
    }

    private void saveCheckpoint(Connection c, GlobalPosition position) throws SQLException {
        // Never moves backwards: a stale instance that lost its lock cannot undo a newer checkpoint.
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO annals.event_subscriptions (name, transaction_id, position)"
                + " VALUES (?, ?::text::xid8, ?) ON CONFLICT (name) DO UPDATE SET transaction_id = excluded.transaction_id,"
                + " position = excluded.position, updated_at = now()"
                + " WHERE (event_subscriptions.transaction_id, event_subscriptions.position) < (excluded.transaction_id, excluded.position)")) {
            ps.setString(1, name);
            ps.setString(2, Long.toString(position.transactionId()));
            ps.setLong(3, position.position());
            ps.executeUpdate();
        }
    }

    private static Optional<GlobalPosition> readCheckpoint(Connection c, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT transaction_id::text, position FROM annals.event_subscriptions WHERE name = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(new GlobalPosition(Long.parseLong(rs.getString(1)), rs.getLong(2))) : Optional.empty();
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A handler's exception, carried out of the loop with the event it failed on. */
    private static final class HandlerFailure extends RuntimeException {
        private final transient RecordedEvent event;

        HandlerFailure(RecordedEvent event, Exception cause) {
            super(cause);
            this.event = event;
        }
    }

    /**
     * Configures and starts a {@link Subscription}.
     *
     * <pre>{@code
     * Subscription.to(store, "search-index").batchSize(200).pollInterval(Duration.ofMillis(500)).start(indexer::index);
     * }</pre>
     */
    public static final class Builder {
        private final EventStore store;
        private final String name;
        private int batchSize = 500;
        private Duration pollInterval = Duration.ofSeconds(1);
        private CrashPoint crashPoint = stage -> { };
        private GlobalPosition startingAfter = GlobalPosition.START;

        private Builder(EventStore store, String name) {
            this.store = Objects.requireNonNull(store, "store");
            Objects.requireNonNull(name, "name");
            if (name.isBlank() || name.length() > 200) {
                throw new IllegalArgumentException("A subscription name is 1 to 200 non-blank characters, e.g. \"balances\"");
            }
            this.name = name;
        }

        /** Events read and handled per transaction (exactly-once) or per checkpoint (at-least-once); 500 by default. */
        public Builder batchSize(int size) {
            if (size < 1) throw new IllegalArgumentException("A batch size is 1 or more, not " + size);
            batchSize = size;
            return this;
        }

        /**
         * How long to wait for a notification before reading anyway; 1 s by default. It bounds the
         * delay when notifications are lost (e.g. a connection pooler that drops LISTEN).
         */
        public Builder pollInterval(Duration interval) {
            Objects.requireNonNull(interval, "interval");
            if (interval.toMillis() < 1) throw new IllegalArgumentException("A poll interval is at least 1 ms, not " + interval);
            pollInterval = interval;
            return this;
        }

        /**
         * Where a subscription without a stored checkpoint starts: after {@code position} (for
         * example the last event of {@code store.readAll()}, to follow only new events). By default
         * from the first event. Ignored once the subscription has a checkpoint.
         */
        public Builder startingAfter(GlobalPosition position) {
            startingAfter = Objects.requireNonNull(position, "position");
            return this;
        }

        Builder crashPoint(CrashPoint point) {
            crashPoint = Objects.requireNonNull(point, "point");
            return this;
        }

        /** Starts delivering at least once to {@code handler}, on a thread of its own. */
        public Subscription start(Handler handler) {
            Subscription s = new Subscription(this, Objects.requireNonNull(handler, "handler"), null);
            s.thread.start();
            return s;
        }

        /** Starts delivering exactly once to {@code handler}, inside the checkpoint's transaction, on a thread of its own. */
        public Subscription startTransactional(TransactionalHandler handler) {
            Subscription s = new Subscription(this, null, Objects.requireNonNull(handler, "handler"));
            s.thread.start();
            return s;
        }
    }
}
