package io.annals.changelog.feed;

import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeLogException;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * A named consumer of the change log: it reads the changes after its checkpoint, in the log's
 * order, in bounded batches, hands each batch to a handler, and stores its checkpoint with the
 * handler's output, so that each change takes effect once. It is the one way to consume the log:
 * read models, replicas and publishers are feeds.
 *
 * <pre>{@code
 * try (ChangeFeed copy = ChangeFeed.from(ChangeLog.at(logDataSource))
 *         .named("orders-copy")
 *         .tables("public.orders")
 *         .startTransactional(replicaDataSource, (changes, tx) -> apply(changes, tx))) {
 *     ...
 * }
 * }</pre>
 *
 * <h2>Delivery</h2>
 * <ul>
 *   <li>{@link Builder#startTransactional exactly once}: the handler gets a transaction on the
 *       feed's own database (the change log's or any other), and the feed stores its checkpoint in
 *       {@code annals.feed_checkpoints} there, in that transaction. The output and the checkpoint
 *       commit together: after a crash at any point, the feed resumes after the last batch that
 *       committed, and no change is applied twice or lost.</li>
 *   <li>{@link Builder#start at least once}: for sinks outside PostgreSQL. The handler runs, then
 *       the checkpoint is stored in the change log's database; after a crash the last batch may be
 *       delivered again, so the sink must make writes idempotent (by {@link ChangeRow#position()},
 *       which is unique).</li>
 * </ul>
 *
 * <h2>Order, and why nothing is ever skipped</h2>
 * The feed reads the log in the order of its ids, which is the order changes were appended. Every
 * append to the log takes one lock from before its rows get their ids until it commits
 * ({@link ChangeLog#lockAppends}), so a change that is not visible yet always has a higher id than
 * every visible one: reading past all that is visible can never skip a change that commits later.
 * That covers every way a row enters the log: capture's batches, streamed transactions moved into
 * the log when they commit, the initial snapshot (stored before the stream), other capture workers
 * writing the same log, and retention baselines. For one source, id order is position order.
 *
 * <p>A retention baseline restates rows the feed has already delivered as changes, so a running
 * feed skips it. A new feed that starts from the beginning of a log whose oldest partitions were
 * dropped first receives the latest baseline (SNAPSHOT rows, the state at the cut-off), then
 * every change kept after it, so it never misses a row the dropped changes made.
 *
 * <h2>Resilience</h2>
 * Each feed runs on its own thread with its own connections, so a slow or failing feed holds no
 * other back. A lost connection, a restarted server or a handler that throws is retried from the
 * checkpoint with back-off, and recorded in {@code annals.feed_consumers} for {@code annals status}
 * (and {@link #failure()}). New changes wake the feed through {@code LISTEN/NOTIFY}; it also polls,
 * so a lost notification only delays it by the poll interval.
 */
public final class ChangeFeed implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ChangeFeed.class);

    /** Handles a batch of changes, at least once. */
    @FunctionalInterface
    public interface Handler {
        /** Called with each batch in order; throw to have the batch delivered again after a back-off. */
        void handle(List<ChangeRow> changes) throws Exception;
    }

    /**
     * Handles a batch of changes inside the transaction that also stores the feed's checkpoint.
     * Write with {@code transaction}; do not commit, roll back or close it.
     */
    @FunctionalInterface
    public interface TransactionalHandler {
        /** Called with each batch in order; throw to roll the batch back and have it delivered again. */
        void handle(List<ChangeRow> changes, Connection transaction) throws Exception;
    }

    /**
     * Handles a batch summarised as counts, inside the transaction that also stores the feed's
     * checkpoint: for a consumer that needs to know how much changed where, not the images (the
     * log's own statistics, or when a table is due for a keyframe). The counting is done by the
     * server, so a catch-up over millions of changes sends a few rows per batch, not the changes.
     * Write with {@code transaction}; do not commit, roll back or close it.
     *
     * <pre>{@code
     * ChangeFeed.CountingHandler churn = (tallies, last, tx) -> {
     *     for (ChangeFeed.Tally t : tallies) addToChurn(tx, t.schema(), t.table(), t.operation(), t.changes());
     * };
     * }</pre>
     */
    @FunctionalInterface
    public interface CountingHandler {
        /**
         * Called with each batch in order; throw to roll the batch back and have it counted again.
         *
         * @param tallies the batch's changes, counted by table and kind (never empty)
         * @param last    the position of the batch's last change
         */
        void handle(List<Tally> tallies, Position last, Connection transaction) throws Exception;
    }

    /**
     * How many changes of one kind to one table a batch holds, for a {@link CountingHandler}.
     *
     * <pre>{@code
     * long deletes = tallies.stream().filter(t -> t.operation() == Operation.DELETE).mapToLong(Tally::changes).sum();
     * }</pre>
     */
    public record Tally(String schema, String table, Operation operation, long changes) {
        public Tally {
            Objects.requireNonNull(schema, "schema");
            Objects.requireNonNull(table, "table");
            Objects.requireNonNull(operation, "operation");
            if (changes < 1) throw new IllegalArgumentException("A tally counts at least one change, not " + changes);
        }
    }

    /**
     * Thrown by a {@link TransactionalHandler} that could handle only the first {@code handled}
     * changes of its batch: their output is in the transaction. The feed commits it with a
     * checkpoint just after the last of them, then reports {@code cause} and delivers the rest
     * again after a back-off. It lets a consumer stop exactly at a change it cannot handle yet
     * (a projection halted on a failing mapper) without holding back the changes before it.
     *
     * <pre>{@code
     * for (int i = 0; i < changes.size(); i++) {
     *     try { apply(changes.get(i), tx); }
     *     catch (RuntimeException e) { throw new ChangeFeed.StopBefore(i, e); }
     * }
     * }</pre>
     */
    public static final class StopBefore extends Exception {
        private static final long serialVersionUID = 1L;
        private final int handled;

        /** @param handled how many changes, from the batch's start, the transaction holds the output of */
        public StopBefore(int handled, Throwable cause) {
            super(cause == null ? "stopped after " + handled + " changes" : cause.getMessage(), cause);
            if (handled < 0) throw new IllegalArgumentException("handled must be >= 0, not " + handled);
            this.handled = handled;
        }

        /** How many changes, from the batch's start, were handled. */
        public int handled() {
            return handled;
        }
    }

    /**
     * A point in the change log, taken by {@link #mark}: a feed {@linkplain Builder#startingAfter
     * started after it} receives exactly the changes appended after it was taken. With a snapshot
     * of the source taken after the mark, that is how a consumer fills its output from the source's
     * state and then goes on from the log with no gap: every change up to the mark was committed at
     * the source before the snapshot began, and every later one comes through the feed.
     *
     * <pre>{@code
     * ChangeFeed.Mark mark = ChangeFeed.mark(changeLog);
     * copyFromSnapshot(source);        // a snapshot that starts after the mark
     * ChangeFeed.from(changeLog).named("copy").startingAfter(mark).startTransactional(out, handler);
     * }</pre>
     *
     * @param lastId every change of the log up to this id is before the mark
     */
    public record Mark(long lastId) {
        public Mark {
            if (lastId < 0) throw new IllegalArgumentException("lastId must be >= 0, not " + lastId);
        }
    }

    /** What a feed is doing. */
    public enum State {
        /** Connecting, or reading its checkpoint. */
        STARTING,
        /** Delivering changes, or waiting for new ones. */
        RUNNING,
        /** A failure stopped the last batch; it is tried again after a back-off (see {@link #failure()}). */
        RETRYING,
        /** Closed. */
        CLOSED
    }

    private final Builder config;
    private final Handler handler;
    private final TransactionalHandler transactionalHandler;
    private final CountingHandler countingHandler;
    private final FeedQuery query;
    private final Thread thread;
    private final Counter delivered;
    private volatile boolean closing;
    private volatile State state = State.STARTING;
    private volatile Throwable failure;
    private volatile FeedCheckpoint checkpoint;
    private volatile long newestId;
    private volatile Instant behindSince;
    private Connection logConnection;
    private Connection outputConnection;
    /**
     * Reads batches on a thread of its own, on a connection of its own, so that the next batch is
     * read while the handler and the commit of the current one run: on two cores that overlap is
     * most of a catch-up's speed. Only ever one read in flight, so the connection is never shared.
     */
    private Connection readConnection;
    private ExecutorService reader;
    private Future<FeedQuery.Batch> prefetch;
    private FeedCheckpoint prefetchFor;
    private FeedCheckpoint reported;
    private long reportedAt;

    private ChangeFeed(Builder config, Handler handler, TransactionalHandler transactionalHandler,
                       CountingHandler countingHandler) {
        this.config = config;
        this.handler = handler;
        this.transactionalHandler = transactionalHandler;
        this.countingHandler = countingHandler;
        this.query = new FeedQuery(config.tables, config.operations, config.contextJson);
        MeterRegistry meters = config.meters;
        this.delivered = meters == null ? null : Counter.builder("annals.feed.delivered").tag("consumer", config.name)
                .description("changes delivered to the feed's handler").register(meters);
        if (meters != null) {
            Gauge.builder("annals.feed.behind.changes", this, ChangeFeed::changesBehind).tag("consumer", config.name)
                    .description("changes in the log after the feed's checkpoint (an estimate from ids)").register(meters);
            Gauge.builder("annals.feed.behind.seconds", this, f -> f.secondsBehind()).tag("consumer", config.name)
                    .description("how long the oldest change the feed has not delivered has waited").register(meters);
        }
        this.thread = Thread.ofPlatform().name("annals-feed-" + config.name).daemon(true).unstarted(this::run);
    }

    /**
     * A feed as the change log's registry knows it, for {@code annals status} and retention. The
     * registry follows each feed's own checkpoint (at most a second behind), so it never claims
     * more than the feed has delivered.
     *
     * @param name           the feed's name
     * @param lastId         every change of the log up to this id has been delivered (0: none yet)
     * @param position       the position of the last change delivered, if any
     * @param changesBehind  changes in the log after it (from ids: exact but for rolled-back appends)
     * @param secondsBehind  how long the oldest change it has not delivered has been in the log; 0 when caught up
     * @param updatedAt      when the feed last reported
     * @param lastError      the failure it is retrying, if any
     */
    public record Status(String name, long lastId, Optional<Position> position, long changesBehind, double secondsBehind,
                         Instant updatedAt, Optional<String> lastError) {
    }

    /** Every feed registered in the change log, by name. */
    public static List<Status> registered(ChangeLog changeLog) {
        try (Connection c = changeLog.dataSource().getConnection()) {
            return FeedCheckpoint.registered(c);
        } catch (SQLException e) {
            throw new ChangeLogException("Could not read the change feeds of the change log: " + e.getMessage(), e);
        }
    }

    /**
     * Removes a feed that is gone for good from the registry, so that it no longer holds
     * retention back. Its checkpoint beside its output stays; a feed of that name started again
     * registers again and resumes from it.
     *
     * @return whether a feed of that name was registered
     */
    public static boolean forget(ChangeLog changeLog, String name) {
        try (Connection c = changeLog.dataSource().getConnection();
             java.sql.PreparedStatement ps = c.prepareStatement("DELETE FROM annals.feed_consumers WHERE consumer = ?")) {
            ps.setString(1, name);
            return ps.executeUpdate() == 1;
        } catch (SQLException e) {
            throw new ChangeLogException("Could not forget change feed " + name + ": " + e.getMessage(), e);
        }
    }

    /** The log's newest change now: see {@link Mark}. */
    public static Mark mark(ChangeLog changeLog) {
        try (Connection c = changeLog.dataSource().getConnection()) {
            return new Mark(FeedQuery.newestId(c));
        } catch (SQLException e) {
            throw new ChangeLogException("Could not read the change log's newest change: " + e.getMessage(), e);
        }
    }

    /**
     * Hands feed {@code from}'s checkpoint over to feed {@code to}, in the caller's transaction on
     * their output database, and removes {@code from}'s: {@code to} goes on exactly where
     * {@code from} stopped. Used to swap in an output rebuilt by a second feed; {@code from} must
     * be closed, and a running {@code to} notices the moved checkpoint, rolls back its batch and
     * resumes from the new one. Call {@link #forget} for {@code from} afterwards.
     *
     * <pre>{@code
     * try (Connection tx = output.getConnection()) {
     *     tx.setAutoCommit(false);
     *     swapTables(tx);
     *     ChangeFeed.handOver(tx, "orders-rebuild", "orders");
     *     tx.commit();
     * }
     * }</pre>
     *
     * @throws ChangeLogException if {@code from} has no checkpoint there
     */
    public static void handOver(Connection transaction, String from, String to) {
        try {
            FeedCheckpoint cp = FeedCheckpoint.load(transaction, from);
            if (cp == null) {
                throw new ChangeLogException("Feed " + from + " has no checkpoint in this database; nothing to hand over to " + to);
            }
            FeedCheckpoint.put(transaction, to, cp);
            FeedCheckpoint.delete(transaction, from);
        } catch (SQLException e) {
            throw new ChangeLogException("Could not hand feed " + from + "'s checkpoint over to " + to + ": " + e.getMessage(), e);
        }
    }

    /**
     * Removes feed {@code name}'s checkpoint from its output database, in the caller's
     * transaction: started again, it begins afresh. For a consumer that discards its output
     * (a rebuild killed half-way), so that the checkpoint does not outlive what it described.
     *
     * <pre>{@code
     * ChangeFeed.dropCheckpoint(tx, "orders-rebuild");
     * }</pre>
     */
    public static void dropCheckpoint(Connection transaction, String name) {
        try {
            FeedCheckpoint.delete(transaction, name);
        } catch (SQLException e) {
            throw new ChangeLogException("Could not drop feed " + name + "'s checkpoint: " + e.getMessage(), e);
        }
    }

    /** Starts setting up a feed of the change log {@code changeLog}. */
    public static Builder from(ChangeLog changeLog) {
        return new Builder(Objects.requireNonNull(changeLog, "changeLog"));
    }

    /** The feed's name: its checkpoint's key. */
    public String name() {
        return config.name;
    }

    /** What the feed is doing now. */
    public State state() {
        return state;
    }

    /** The last failure, while the feed is {@link State#RETRYING}; empty once a batch went through again. */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure);
    }

    /** The position of the last change delivered (and committed), if any. */
    public Optional<Position> position() {
        FeedCheckpoint cp = checkpoint;
        return cp == null ? Optional.empty() : Optional.ofNullable(cp.position());
    }

    /** About how many changes are in the log after the checkpoint (from ids: exact but for rolled-back appends). */
    public long changesBehind() {
        FeedCheckpoint cp = checkpoint;
        return cp == null ? 0 : Math.max(0, newestId - cp.lastId());
    }

    /** How long, in seconds, the oldest change the feed has not delivered yet has been in the log; 0 when caught up. */
    public double secondsBehind() {
        Instant since = behindSince;
        return since == null ? 0 : Math.max(0, Duration.between(since, Instant.now()).toNanos() / 1e9);
    }

    /**
     * Waits until the feed has delivered every change that was in the log when this was called.
     *
     * @return false if {@code timeout} passed first
     */
    public boolean awaitCaughtUp(Duration timeout) {
        long target;
        try (Connection c = config.changeLog.dataSource().getConnection()) {
            target = FeedQuery.newestId(c);
        } catch (SQLException e) {
            throw new ChangeLogException("Could not read the change log's newest change: " + e.getMessage(), e);
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            FeedCheckpoint cp = checkpoint;
            if (cp != null && cp.lastId() >= target && cp.baselineOf() == null) return true;
            if (state == State.CLOSED) return false;
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return false;
    }

    // ---------------------------------------------------------------- the loop

    private void run() {
        long backoff = config.minBackoff.toMillis();
        while (!closing) {
            try {
                open();
                backoff = config.minBackoff.toMillis();
                while (!closing) {
                    if (!deliverOnce()) waitForChanges();
                }
            } catch (Throwable e) {
                if (closing) break;
                failure = e;
                state = State.RETRYING;
                log.warn("Feed {}: {}; retrying from its checkpoint in {} ms", config.name, describe(e), backoff);
                recordError(e);
                closeConnections();
                sleep(backoff);
                backoff = Math.min(backoff * 2, config.maxBackoff.toMillis());
            }
        }
        closeConnections();
        state = State.CLOSED;
    }

    private void open() throws SQLException {
        state = State.STARTING;
        logConnection = config.changeLog.dataSource().getConnection();
        logConnection.setAutoCommit(true);
        try (Statement s = logConnection.createStatement()) {
            s.execute("LISTEN " + ChangeLog.NOTIFY_CHANNEL);
            // The registry is advisory (status, retention); it may lose its last update in a crash.
            s.execute("SET synchronous_commit = off");
        }
        DataSource output = config.output == null ? config.changeLog.dataSource() : config.output;
        outputConnection = output.getConnection();
        outputConnection.setAutoCommit(false);
        readConnection = config.changeLog.dataSource().getConnection();
        readConnection.setAutoCommit(true);
        reader = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().name("annals-feed-reader-" + config.name)
                .daemon(true).unstarted(r));
        FeedCheckpoint.register(logConnection, config.name);
        FeedCheckpoint cp = FeedCheckpoint.load(outputConnection, config.name);
        if (cp == null) cp = FeedCheckpoint.create(outputConnection, logConnection, config.name, config.startAtEnd,
                config.startAfter == null ? null : config.startAfter.lastId());
        outputConnection.commit();
        checkpoint = cp;
        state = State.RUNNING;
    }

    /** Delivers one batch; returns false when there was nothing new to deliver. */
    private boolean deliverOnce() throws Exception {
        FeedCheckpoint cp = checkpoint;
        FeedQuery.Batch batch = read(cp);
        newestId = Math.max(newestId, batch.newestId());
        behindSince = batch.oldest();
        FeedCheckpoint next = cp.after(batch);
        if (next.equals(cp)) {
            behindSince = null;
            return false;
        }
        if (batch.more()) {
            prefetchFor = next;
            prefetch = reader.submit(() -> readNow(next));
        }
        if (transactionalHandler != null || countingHandler != null) {
            try {
                if (countingHandler != null) {
                    if (batch.size() > 0) countingHandler.handle(batch.tallies(), batch.lastPosition(), outputConnection);
                } else if (!batch.rows().isEmpty()) {
                    try {
                        transactionalHandler.handle(batch.rows(), outputConnection);
                    } catch (StopBefore stop) {
                        commitPart(cp, batch, stop);
                    }
                }
                if (!next.store(outputConnection, config.name, cp)) {
                    outputConnection.rollback();
                    throw new ChangeLogException("The checkpoint of feed " + config.name + " moved while it was"
                            + " delivering (another instance of it is running); its batch was rolled back");
                }
                outputConnection.commit();
            } catch (Exception e) {
                rollbackQuietly();
                throw e;
            }
        } else {
            if (!batch.rows().isEmpty()) handler.handle(batch.rows());
            next.store(outputConnection, config.name, null);
            outputConnection.commit();
        }
        checkpoint = next;
        if (delivered != null) delivered.increment(batch.size());
        if (failure != null) {
            failure = null;
            FeedCheckpoint.clearError(logConnection, config.name);
        }
        report(false);
        return batch.more();
    }

    /**
     * Commits the first {@code stop.handled()} changes of {@code batch} with a checkpoint just
     * after them, then throws, so that the rest is delivered again after a back-off. A retention
     * baseline is delivered whole or not at all: its checkpoint cannot stop inside it.
     */
    private void commitPart(FeedCheckpoint cp, FeedQuery.Batch batch, StopBefore stop) throws Exception {
        int handled = Math.min(stop.handled(), batch.rows().size());
        if (handled > 0 && cp.baselineOf() == null) {
            FeedCheckpoint part = new FeedCheckpoint(batch.ids()[handled - 1], batch.rows().get(handled - 1).position(), null, null);
            if (!part.store(outputConnection, config.name, cp)) {
                throw new ChangeLogException("The checkpoint of feed " + config.name + " moved while it was"
                        + " delivering (another instance of it is running); its batch was rolled back");
            }
            outputConnection.commit();
            checkpoint = part;
            if (delivered != null) delivered.increment(handled);
        }
        Throwable cause = stop.getCause() == null ? stop : stop.getCause();
        if (cause instanceof Exception e) throw e;
        throw new ChangeLogException("Feed " + config.name + " stopped: " + cause, cause);
    }

    /** The batch after {@code cp}: the one read ahead if it was read for {@code cp}, else read now. */
    private FeedQuery.Batch read(FeedCheckpoint cp) throws Exception {
        Future<FeedQuery.Batch> ahead = prefetch;
        boolean usable = ahead != null && cp.equals(prefetchFor);
        prefetch = null;
        prefetchFor = null;
        try {
            if (usable) return ahead.get();
            if (ahead != null) ahead.get(); // one read at a time on the read connection
            return reader.submit(() -> readNow(cp)).get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception cause) throw cause;
            throw e;
        }
    }

    private FeedQuery.Batch readNow(FeedCheckpoint cp) throws SQLException {
        if (cp.baselineOf() != null) {
            FeedQuery.Batch baseline = query.readBaseline(readConnection, cp, config.batchSize);
            return countingHandler == null ? baseline : baseline.counted();
        }
        return countingHandler != null
                ? query.count(readConnection, cp.lastId(), config.batchSize)
                : query.read(readConnection, cp.lastId(), config.batchSize);
    }

    /**
     * Copies the checkpoint to the registry in the log's database ({@code annals.feed_consumers}),
     * at most once per report interval unless {@code now}: it is read by status and retention only.
     */
    private void report(boolean now) throws SQLException {
        FeedCheckpoint cp = checkpoint;
        if (cp.equals(reported) || (!now && System.nanoTime() - reportedAt < config.reportInterval.toNanos())) return;
        cp.report(logConnection, config.name);
        reported = cp;
        reportedAt = System.nanoTime();
    }

    private void waitForChanges() throws SQLException {
        report(true);
        PGConnection pg = logConnection.unwrap(PGConnection.class);
        long until = System.nanoTime() + config.pollInterval.toNanos();
        // In slices, so that close() is never kept waiting for a whole poll interval.
        while (!closing) {
            long left = TimeUnit.NANOSECONDS.toMillis(until - System.nanoTime());
            if (left <= 0) break;
            PGNotification[] notes = pg.getNotifications((int) Math.max(1, Math.min(left, 100)));
            if (notes != null && notes.length > 0) return;
        }
        // Nothing arrived: make sure the connection is alive (getNotifications does not tell).
        try (Statement s = logConnection.createStatement()) {
            s.execute("SELECT 1");
        }
    }

    private void recordError(Throwable e) {
        try (Connection c = config.changeLog.dataSource().getConnection()) {
            FeedCheckpoint.recordError(c, config.name, describe(e));
        } catch (SQLException | RuntimeException ignored) {
            // The log is unreachable too; the log line above says what happened.
        }
    }

    private static String describe(Throwable e) {
        String message = e.getMessage();
        return e.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }

    private void rollbackQuietly() {
        try {
            outputConnection.rollback();
        } catch (SQLException | RuntimeException ignored) {
            // A broken connection discards its transaction when closed.
        }
    }

    private void closeConnections() {
        if (reader != null) {
            reader.shutdownNow();
            try {
                reader.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        reader = null;
        prefetch = null;
        prefetchFor = null;
        for (Connection c : new Connection[]{logConnection, outputConnection, readConnection}) {
            if (c == null) continue;
            try {
                c.close();
            } catch (SQLException ignored) {
                // Nothing to save: every batch committed or rolled back.
            }
        }
        logConnection = null;
        outputConnection = null;
        readConnection = null;
    }

    private void sleep(long millis) {
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (!closing && System.nanoTime() < until) {
            try {
                Thread.sleep(Math.min(50, millis));
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Stops the feed after the batch in flight (whose checkpoint it stores), and waits for it. */
    @Override
    public void close() {
        closing = true;
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) thread.interrupt();
        state = State.CLOSED;
    }

    @Override
    public String toString() {
        return "ChangeFeed[" + config.name + ", " + state + ", " + position().map(Position::toString).orElse("nothing yet") + "]";
    }

    // ---------------------------------------------------------------- setup

    /**
     * How a feed is set up: its name, what it reads and how, then how it delivers
     * ({@link #start} or {@link #startTransactional}).
     *
     * <pre>{@code
     * ChangeFeed feed = ChangeFeed.from(log).named("audit-export").operations(Operation.DELETE)
     *         .batchSize(1_000).start(changes -> exporter.send(changes));
     * }</pre>
     */
    public static final class Builder {
        private final ChangeLog changeLog;
        private String name;
        private final Set<String[]> tables = new LinkedHashSet<>();
        private final Set<Operation> operations = EnumSet.noneOf(Operation.class);
        private String contextJson;
        private int batchSize = 1_000;
        private Duration pollInterval = Duration.ofSeconds(1);
        private Duration minBackoff = Duration.ofMillis(200);
        private Duration maxBackoff = Duration.ofSeconds(30);
        private Duration reportInterval = Duration.ofSeconds(1);
        private boolean startAtEnd;
        private Mark startAfter;
        private MeterRegistry meters;
        private DataSource output;

        private Builder(ChangeLog changeLog) {
            this.changeLog = changeLog;
        }

        /** The feed's name (required): its checkpoint's key, unique per change log. */
        public Builder named(String name) {
            if (name == null || name.isBlank() || name.length() > 200) {
                throw new IllegalArgumentException("A feed needs a name of 1 to 200 characters, e.g. \"orders-read-model\"; got "
                        + (name == null ? "none" : "'" + name + "'"));
            }
            this.name = name;
            return this;
        }

        /** Only changes of these tables ({@code schema.table}, or {@code table} for schema public). */
        public Builder tables(String... qualifiedNames) {
            for (String t : qualifiedNames) {
                Objects.requireNonNull(t, "table");
                int dot = t.indexOf('.');
                String[] name = dot < 0 ? new String[]{"public", t} : new String[]{t.substring(0, dot), t.substring(dot + 1)};
                if (name[0].isBlank() || name[1].isBlank()) {
                    // A blank part would silently match nothing, and the feed would deliver nothing.
                    throw new IllegalArgumentException("Not a table name: '" + t + "'; use schema.table, e.g. public.orders,"
                            + " or table for schema public");
                }
                tables.add(name);
            }
            return this;
        }

        /** Only changes of these kinds. */
        public Builder operations(Operation... kinds) {
            operations.addAll(List.of(kinds));
            return this;
        }

        /** Only changes whose application context contains this JSON object, e.g. {@code {"tenant": "acme"}}. */
        public Builder contextContains(String jsonObject) {
            String t = Objects.requireNonNull(jsonObject, "jsonObject").trim();
            if (!t.startsWith("{") || !t.endsWith("}")) {
                throw new IllegalArgumentException("A context filter is a JSON object, e.g. {\"tenant\": \"acme\"}; got " + jsonObject);
            }
            this.contextJson = t;
            return this;
        }

        /**
         * At most this many changes per batch (default 1,000): the feed's memory bound. A
         * {@linkplain #startCounting counting} feed counts the changes among this many ids of the log per batch.
         */
        public Builder batchSize(int size) {
            if (size < 1 || size > 100_000) throw new IllegalArgumentException("batchSize must be 1 to 100,000, not " + size);
            this.batchSize = size;
            return this;
        }

        /** How often the feed looks for changes when no notification comes (default 1 s). */
        public Builder pollInterval(Duration interval) {
            if (interval.isNegative() || interval.isZero()) throw new IllegalArgumentException("pollInterval must be positive");
            this.pollInterval = interval;
            return this;
        }

        /** The back-off between retries after a failure: from {@code min}, doubling, up to {@code max}. */
        public Builder backoff(Duration min, Duration max) {
            if (min.isNegative() || min.isZero() || max.compareTo(min) < 0) {
                throw new IllegalArgumentException("backoff needs 0 < min <= max, got " + min + " and " + max);
            }
            this.minBackoff = min;
            this.maxBackoff = max;
            return this;
        }

        /**
         * A feed that has no checkpoint yet starts after the newest change in the log, not at its
         * beginning (the default, which includes the initial snapshot).
         */
        public Builder startingAtEnd() {
            this.startAtEnd = true;
            this.startAfter = null;
            return this;
        }

        /** A feed that has no checkpoint yet starts after {@code mark} (see {@link Mark}). */
        public Builder startingAfter(Mark mark) {
            this.startAfter = Objects.requireNonNull(mark, "mark");
            this.startAtEnd = false;
            return this;
        }

        /** Registers the feed's meters: {@code annals.feed.delivered}, {@code .behind.changes}, {@code .behind.seconds}. */
        public Builder meterRegistry(MeterRegistry registry) {
            this.meters = Objects.requireNonNull(registry, "registry");
            return this;
        }

        /**
         * Starts delivering at least once; the checkpoint is stored in the change log's database
         * after each batch is handled.
         */
        public ChangeFeed start(Handler handler) {
            Objects.requireNonNull(handler, "handler");
            return launch(null, handler, null, null);
        }

        /**
         * Starts delivering exactly once: each batch is handled in a transaction on {@code output}
         * that also stores the checkpoint ({@code annals.feed_checkpoints}, created there if missing).
         */
        public ChangeFeed startTransactional(DataSource output, TransactionalHandler handler) {
            Objects.requireNonNull(output, "output");
            Objects.requireNonNull(handler, "handler");
            return launch(output, null, handler, null);
        }

        /**
         * Starts counting exactly once: each batch comes as {@linkplain Tally tallies} by table and
         * kind, in a transaction on {@code output} that also stores the checkpoint, as with
         * {@link #startTransactional}. Filters apply as to any feed.
         *
         * <pre>{@code
         * ChangeFeed.from(log).named("churn").batchSize(50_000).startCounting(log.dataSource(),
         *         (tallies, last, tx) -> addUp(tallies, tx));
         * }</pre>
         */
        public ChangeFeed startCounting(DataSource output, CountingHandler handler) {
            Objects.requireNonNull(output, "output");
            Objects.requireNonNull(handler, "handler");
            return launch(output, null, null, handler);
        }

        private ChangeFeed launch(DataSource output, Handler handler, TransactionalHandler transactional,
                                  CountingHandler counting) {
            if (name == null) throw new IllegalStateException("Name the feed first: ChangeFeed.from(log).named(\"...\")");
            this.output = output;
            FeedCheckpoint.migrate(output == null ? changeLog.dataSource() : output);
            ChangeFeed feed = new ChangeFeed(copy(), handler, transactional, counting);
            feed.thread.start();
            return feed;
        }

        private Builder copy() {
            Builder b = new Builder(changeLog);
            b.name = name;
            b.tables.addAll(tables);
            b.operations.addAll(operations);
            b.contextJson = contextJson;
            b.batchSize = batchSize;
            b.pollInterval = pollInterval;
            b.minBackoff = minBackoff;
            b.maxBackoff = maxBackoff;
            b.reportInterval = reportInterval;
            b.startAtEnd = startAtEnd;
            b.startAfter = startAfter;
            b.meters = meters;
            b.output = output;
            return b;
        }
    }
}
