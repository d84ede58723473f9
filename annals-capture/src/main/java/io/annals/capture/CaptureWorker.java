package io.annals.capture;

import io.annals.capture.Boundary.StreamedAbort;
import io.annals.capture.Boundary.StreamedCommit;
import io.annals.capture.Boundary.TransactionEnd;

import io.annals.capture.pgoutput.PgOutputDecoder;
import io.annals.capture.pgoutput.PgOutputMessage;
import io.annals.capture.value.PgTypes;
import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeLogWriter;
import io.annals.changelog.Checkpoint;
import io.annals.changelog.CrashPoint;
import io.annals.changelog.Position;
import io.annals.changelog.SnapshotState;
import io.annals.changelog.Supervisor;
import org.postgresql.PGConnection;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;
import org.postgresql.replication.ReplicationSlotInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Streams every row change of a PostgreSQL database from its WAL into the change log.
 *
 * <p>Two threads form the pipeline: a reader decodes the slot's pgoutput stream into changes, and
 * a writer stores them in batches, each batch with the checkpoint in one transaction. The slot
 * is confirmed only up to the end of the last transaction stored whole, so a crash at any point
 * replays from there, and changes already stored are recognised by their position and skipped.
 * A third thread sends heartbeats on an idle source and watches the WAL the slot retains.
 *
 * <pre>{@code
 * try (CaptureWorker worker = CaptureWorker.start(CaptureOptions.builder(url).build())) {
 *     worker.awaitCaughtUp(Duration.ofSeconds(30));
 * }
 * }</pre>
 */
public final class CaptureWorker implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CaptureWorker.class);
    /** Prefix of the non-transactional message {@link #awaitCaughtUp} sends through the stream. */
    private static final String SYNC_PREFIX = "annals_sync";
    private static final String HEARTBEAT_PREFIX = "annals_heartbeat";

    private sealed interface Task permits BatchTask, SyncTask, StopTask, CommitTask, AbortTask { }

    private record CommitTask(StreamedCommit commit) implements Task { }

    private record AbortTask(StreamedAbort abort) implements Task { }

    private record BatchTask(Batch batch) implements Task { }

    private record SyncTask(long lsn) implements Task { }

    private record StopTask() implements Task { }

    private final CaptureOptions options;
    private final CaptureMetrics metrics;
    private final BlockingQueue<Task> queue = new ArrayBlockingQueue<>(4);
    private final AtomicInteger tasksInFlight = new AtomicInteger();
    private final AtomicLong durableLsn = new AtomicLong();
    private final AtomicLong syncedLsn = new AtomicLong();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final CountDownLatch stopped = new CountDownLatch(2);
    private volatile boolean running = true;
    private volatile long lastMessageNanos = System.nanoTime();
    private final Object syncLock = new Object();

    private Connection replication;
    private PGReplicationStream stream;
    private ChangeLogWriter writer;
    private Thread readerThread;
    private Thread writerThread;
    private Thread monitorThread;
    private SourceSetup.SourceInfo source;
    private ChangeAssembler assembler;
    private PgOutputDecoder decoder;
    private final List<PendingChange> batch = new ArrayList<>();
    private long batchConfirm;
    private long batchChars;
    /**
     * A batch is also cut at about this many characters, so that rows with large values cannot
     * make the (bounded) queue hold more memory than a small heap has.
     */
    private static final long MAX_BATCH_CHARS = 8L << 20;

    /**
     * Under a steady trickle the reader is rarely idle, so a batch would wait to fill up; no
     * change waits longer than this before it is handed to the writer.
     */
    private static final long MAX_BATCH_DELAY_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    private long batchStartedNanos;

    private void collect(PendingChange change) {
        if (batch.isEmpty()) batchStartedNanos = System.nanoTime();
        batch.add(change);
        batchChars += change.approximateChars();
    }

    private CaptureWorker(CaptureOptions options) {
        this.options = options;
        this.metrics = new CaptureMetrics(options.meterRegistry(), options.slotName());
    }

    /**
     * Checks the source, prepares the change log, publication and slot, takes the initial
     * snapshot on first start, then starts streaming in the background.
     *
     * @throws CaptureException when capture cannot start; the message says how to fix it
     */
    public static CaptureWorker start(CaptureOptions options) {
        if (options.slotName() == null) {
            options = options.toBuilder().slot(CaptureOptions.defaultSlotName(currentDatabase(options.sourceUrl()))).build();
        }
        CaptureWorker worker = new CaptureWorker(options);
        try {
            worker.open();
        } catch (SQLException e) {
            worker.closeResources();
            throw Connections.explain(e, options.sourceUrl(), "source");
        } catch (RuntimeException e) {
            worker.closeResources();
            throw e;
        }
        return worker;
    }

    static String currentDatabase(String url) {
        try (Connection c = Connections.open(url, "source"); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_database()")) {
            rs.next();
            return rs.getString(1);
        } catch (SQLException e) {
            throw Connections.explain(e, url, "source");
        }
    }

    /** The replication slot this worker streams from (also its checkpoint's name). */
    public String slotName() {
        return options.slotName();
    }

    private void open() throws SQLException {
        Checkpoint checkpoint;
        try (Connection c = Connections.open(options.sourceUrl(), "source")) {
            SourceSetup setup = new SourceSetup(options);
            source = setup.check(c);
            setup.checkColumnPolicy(c);
            ChangeLog changeLog = ChangeLog.at(options.targetUrl());
            try {
                changeLog.migrate();
            } catch (RuntimeException e) {
                throw new CaptureException("Could not create or upgrade schema annals in the target database ("
                        + Connections.redact(options.targetUrl()) + "): " + rootMessage(e)
                        + ". The target role needs CREATE on the database.", e);
            }
            setup.ensureReplicaIdentity(c);
            setup.ensureReplicaIdentityTrigger(c, source);
            setup.ensurePublication(c, source);
            writer = changeLog.openWriter(options.slotName(), w -> { });
            checkpoint = writer.checkpoint().orElse(null);
            SourceSetup.SlotState slot = setup.slot(c, source);
            if (checkpoint != null && checkpoint.snapshotState() == SnapshotState.RUNNING) {
                log.warn("The initial snapshot of slot {} was interrupted; discarding it and taking it again", options.slotName());
                discardInterruptedSnapshot(c, checkpoint, slot != null);
                checkpoint = writer.checkpoint().orElse(null);
                slot = null;
            }
            if (slot == null) {
                if (checkpoint != null && checkpoint.confirmedLsn() != 0) {
                    log.warn("Replication slot {} is missing although the change log has a checkpoint at {}: someone dropped it,"
                                    + " and changes made while it was gone are not in the change log. Creating it again.",
                            options.slotName(), Position.formatLsn(checkpoint.confirmedLsn()));
                }
                createSlotAndSnapshot();
                checkpoint = writer.checkpoint().orElse(null);
            } else if (checkpoint == null) {
                log.warn("Replication slot {} exists but the change log has no checkpoint for it; resuming from the slot's"
                        + " position without an initial snapshot", options.slotName());
            }
        }
        // Transactions streamed before a stop are streamed again from their beginning.
        writer.discardAllStaged();
        decoder = new PgOutputDecoder(source.protocolVersion());
        PgTypes types = new PgTypes(() -> Connections.open(options.sourceUrl(), "source"));
        assembler = new ChangeAssembler(options, types, () -> Connections.open(options.sourceUrl(), "source"), null,
                checkpoint, this::collect);
        startStream(checkpoint == null ? 0 : checkpoint.confirmedLsn());
        durableLsn.set(checkpoint == null ? 0 : checkpoint.confirmedLsn());
        BatchWriter batchWriter = new BatchWriter(writer, source.database(), metrics, options.crashPoint());
        Checkpoint startCheckpoint = checkpoint;
        writerThread = Thread.ofPlatform().name("annals-writer-" + options.slotName())
                .start(() -> writeLoop(batchWriter, startCheckpoint));
        readerThread = Thread.ofPlatform().name("annals-reader-" + options.slotName()).start(this::readLoop);
        monitorThread = Thread.ofPlatform().daemon().name("annals-monitor-" + options.slotName()).start(this::monitorLoop);
        log.info("Capturing database {} (PostgreSQL {}, pgoutput protocol {}) into {} with slot {}",
                source.database(), source.major(), source.protocolVersion(), Connections.redact(options.targetUrl()),
                options.slotName());
    }

    private void createSlotAndSnapshot() throws SQLException {
        // Record the intent first: a crash between creating the slot and recording it must not
        // leave a slot that a restart would take for someone else's and stream without a snapshot.
        writer.saveSnapshotState(SnapshotState.RUNNING, 0);
        try (Connection creator = Connections.openReplication(options.sourceUrl())) {
            ReplicationSlotInfo slot;
            try {
                slot = new SourceSetup(options).createSlot(creator);
            } catch (SQLException e) {
                if ("42710".equals(e.getSQLState())) {
                    throw new CaptureException("Replication slot '" + options.slotName() + "' was created by another process"
                            + " just now; is another capture worker starting? Use --slot to give each its own.", e);
                }
                throw e;
            }
            long consistent = slot.getConsistentPoint().asLong();
            if (options.snapshot() == SnapshotMode.NEVER) {
                writer.saveSnapshotState(SnapshotState.SKIPPED, consistent);
                return;
            }
            writer.saveSnapshotState(SnapshotState.RUNNING, consistent);
            try (Connection reader = Connections.open(options.sourceUrl(), "source")) {
                long rows = new Snapshotter(options, source.database()).run(reader, slot.getSnapshotName(), consistent, writer);
                writer.saveSnapshotState(SnapshotState.DONE, consistent);
                log.info("Initial snapshot done: {} rows at {}", rows, slot.getConsistentPoint());
            }
        }
    }

    /**
     * A snapshot cut short by a crash cannot be resumed: the snapshot it read from died with the
     * connection that exported it. Nothing was streamed yet, so the slot has confirmed nothing and
     * recreating it (with a new snapshot) loses nothing.
     */
    private void discardInterruptedSnapshot(Connection source, Checkpoint checkpoint, boolean slotExists) throws SQLException {
        if (checkpoint.confirmedLsn() != 0) {
            throw new CaptureException("The checkpoint says the snapshot is running but also that streaming began; refusing"
                    + " to guess. Inspect annals.checkpoints for consumer '" + options.slotName() + "'.");
        }
        // The slot goes first: were we to crash after deleting the checkpoint but before this, a
        // restart would find a slot with no checkpoint and skip the snapshot.
        if (slotExists) {
            try (PreparedStatement ps = source.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
                ps.setString(1, options.slotName());
                ps.execute();
            }
        }
        int n = writer.discardSnapshot(checkpoint.snapshotLsn());
        if (n > 0) log.info("Discarded {} rows of the interrupted snapshot", n);
    }

    private void startStream(long startLsn) throws SQLException {
        replication = Connections.openReplication(options.sourceUrl());
        var builder = replication.unwrap(PGConnection.class).getReplicationAPI().replicationStream().logical()
                .withSlotName(options.slotName())
                .withStartPosition(LogSequenceNumber.valueOf(startLsn))
                .withSlotOption("proto_version", String.valueOf(source.protocolVersion()))
                .withSlotOption("publication_names", options.publicationName())
                .withSlotOption("messages", true)
                .withStatusInterval(1, TimeUnit.SECONDS);
        if (options.streaming() && source.protocolVersion() >= 2) {
            builder = builder.withSlotOption("streaming", "on");
        }
        long deadline = System.nanoTime() + SourceSetup.SLOT_RELEASE_WAIT.toNanos();
        while (true) {
            try {
                stream = builder.start();
                return;
            } catch (SQLException e) {
                if (!"55006".equals(e.getSQLState())) throw e;
                if (System.nanoTime() > deadline) throw new SourceSetup(options).slotInUse(null);
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
            }
        }
    }

    private void readLoop() {
        try {
            while (running) {
                ByteBuffer buffer = stream.readPending();
                if (buffer == null) {
                    idle();
                    continue;
                }
                lastMessageNanos = System.nanoTime();
                PgOutputMessage message = decoder.decode(buffer);
                switch (assembler.accept(message)) {
                    case null -> { }
                    case TransactionEnd end -> batchConfirm = end.endLsn();
                    case StreamedCommit commit -> {
                        handOff();
                        enqueue(new CommitTask(commit));
                    }
                    case StreamedAbort abort -> {
                        handOff();
                        enqueue(new AbortTask(abort));
                    }
                }
                if (batch.size() >= options.batchSize() || batchChars >= MAX_BATCH_CHARS
                        || (!batch.isEmpty() && System.nanoTime() - batchStartedNanos > MAX_BATCH_DELAY_NANOS)) {
                    handOff();
                }
                if (message instanceof PgOutputMessage.Message m && !m.transactional() && SYNC_PREFIX.equals(m.prefix())) {
                    handOff();
                    enqueue(new SyncTask(m.lsn()));
                }
            }
            handOff();
        } catch (Throwable t) {
            fail(t);
        } finally {
            enqueueQuietly(new StopTask());
            stopped.countDown();
        }
    }

    /** Nothing to read right now: hand over what we have, and tell the server how far we are. */
    private void idle() throws SQLException, InterruptedException {
        if (!batch.isEmpty() || batchConfirm != 0) {
            handOff();
        } else if (!assembler.inTransaction() && !assembler.hasOpenStreams() && tasksInFlight.get() == 0) {
            // Everything received is stored; keepalives and skipped transactions may move the slot on.
            long received = stream.getLastReceiveLSN().asLong();
            durableLsn.accumulateAndGet(received, Math::max);
        }
        confirm();
        LockSupport.parkNanos(2_000_000);
    }

    private long confirmedToServer;

    private void confirm() throws SQLException {
        long durable = durableLsn.get();
        if (durable > confirmedToServer) {
            LogSequenceNumber lsn = LogSequenceNumber.valueOf(durable);
            stream.setFlushedLSN(lsn);
            stream.setAppliedLSN(lsn);
            stream.forceUpdateStatus();
            confirmedToServer = durable;
            options.crashPoint().reached(CrashPoint.Stage.AFTER_CONFIRM);
        }
    }

    private void handOff() throws InterruptedException {
        if (batch.isEmpty() && batchConfirm == 0) return;
        Batch b = new Batch(List.copyOf(batch), batchConfirm);
        batch.clear();
        batchConfirm = 0;
        batchChars = 0;
        enqueue(new BatchTask(b));
    }

    private void enqueue(Task task) throws InterruptedException {
        tasksInFlight.incrementAndGet();
        while (!queue.offer(task, 100, TimeUnit.MILLISECONDS)) {
            if (failure.get() != null) {
                tasksInFlight.decrementAndGet();
                throw new CaptureException("The change-log writer failed", failure.get());
            }
        }
    }

    private void enqueueQuietly(Task task) {
        try {
            enqueue(task);
        } catch (InterruptedException | RuntimeException e) {
            // The writer is gone already.
        }
    }

    private void writeLoop(BatchWriter batchWriter, Checkpoint startCheckpoint) {
        try {
            while (true) {
                Task task = queue.take();
                try {
                    switch (task) {
                        case BatchTask b -> {
                            batchWriter.write(b.batch());
                            if (b.batch().confirmedLsn() != 0) durableLsn.accumulateAndGet(b.batch().confirmedLsn(), Math::max);
                        }
                        case CommitTask c -> {
                            batchWriter.commit(c.commit(), startCheckpoint);
                            durableLsn.accumulateAndGet(c.commit().endLsn(), Math::max);
                        }
                        case AbortTask a -> batchWriter.abort(a.abort());
                        case SyncTask s -> {
                            synchronized (syncLock) {
                                syncedLsn.accumulateAndGet(s.lsn(), Math::max);
                                syncLock.notifyAll();
                            }
                        }
                        case StopTask s -> {
                            return;
                        }
                    }
                } finally {
                    tasksInFlight.decrementAndGet();
                }
            }
        } catch (Throwable t) {
            fail(t);
        } finally {
            stopped.countDown();
        }
    }

    private void monitorLoop() {
        Connection c = null;
        long lastWarning = 0;
        while (running) {
            try {
                if (c == null || c.isClosed()) c = Connections.open(options.sourceUrl(), "source");
                try (PreparedStatement ps = c.prepareStatement("SELECT pg_current_wal_lsn() - confirmed_flush_lsn,"
                        + " pg_current_wal_lsn() - restart_lsn FROM pg_replication_slots WHERE slot_name = ?")) {
                    ps.setString(1, options.slotName());
                    try (ResultSet rs = ps.executeQuery()) {
                        if (rs.next()) {
                            metrics.lagBytes.set(rs.getLong(1));
                            long retained = rs.getLong(2);
                            metrics.retainedWalBytes.set(retained);
                            if (retained > options.walWarningBytes() && System.nanoTime() - lastWarning > TimeUnit.MINUTES.toNanos(1)) {
                                lastWarning = System.nanoTime();
                                log.warn("!!! Replication slot {} retains {} MiB of WAL (warning threshold {} MiB). If capture"
                                                + " cannot keep up or stays stopped, the source's disk fills up. Check `annals status`.",
                                        options.slotName(), retained >> 20, options.walWarningBytes() >> 20);
                            }
                        }
                    }
                }
                if (System.nanoTime() - lastMessageNanos > options.heartbeatInterval().toNanos()) {
                    try (Statement s = c.createStatement()) {
                        s.execute("SELECT pg_logical_emit_message(false, '" + HEARTBEAT_PREFIX + "', now()::text)");
                    }
                    lastMessageNanos = System.nanoTime();
                }
            } catch (SQLException | RuntimeException e) {
                log.debug("Monitor query failed: {}", e.getMessage());
                closeQuietly(c);
                c = null;
            }
            LockSupport.parkNanos(Math.min(TimeUnit.SECONDS.toNanos(5), options.heartbeatInterval().toNanos()));
        }
        closeQuietly(c);
    }

    /**
     * Waits until every transaction committed on the source before this call is in the change log.
     * It sends a marker through the slot's own stream, so "caught up" means exactly that.
     *
     * @throws CaptureException if the worker failed, or the timeout passed
     */
    public void awaitCaughtUp(Duration timeout) {
        long lsn;
        try (Connection c = Connections.open(options.sourceUrl(), "source");
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT pg_logical_emit_message(false, '" + SYNC_PREFIX + "', '') - '0/0'::pg_lsn")) {
            rs.next();
            lsn = rs.getLong(1);
        } catch (SQLException e) {
            throw Connections.explain(e, options.sourceUrl(), "source");
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (syncLock) {
            while (syncedLsn.get() < lsn) {
                Throwable t = failure.get();
                if (t != null) throw new CaptureException("Capture failed: " + rootMessage(t), t);
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

    /** The failure that stopped the worker, if one did. */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure.get());
    }

    /** True until the worker is stopped or fails. */
    public boolean isRunning() {
        return running && failure.get() == null;
    }

    /** Blocks until the worker stops (by {@link #close()} or a failure). */
    public void await() throws InterruptedException {
        stopped.await();
    }

    /** The end LSN of the last source transaction durably stored. */
    public long durableLsn() {
        return durableLsn.get();
    }

    private void fail(Throwable t) {
        if (failure.compareAndSet(null, t)) {
            log.error("Capture stopped: {}", rootMessage(t), t);
        }
        running = false;
        synchronized (syncLock) {
            syncLock.notifyAll();
        }
    }

    /**
     * Stops streaming: changes already received are stored, the slot is confirmed up to them, and
     * the connections close. The slot itself stays, so a later start resumes where this one ended.
     */
    @Override
    public void close() {
        running = false;
        try {
            if (readerThread != null && !stopped.await(60, TimeUnit.SECONDS)) {
                log.warn("Capture threads did not stop within 60 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            if (stream != null && failure.get() == null && !stream.isClosed()) {
                confirm();
            }
        } catch (SQLException e) {
            log.debug("Final status update failed: {}", e.getMessage());
        }
        closeResources();
    }

    private void closeResources() {
        try {
            if (stream != null) stream.close();
        } catch (SQLException ignored) {
            // Closing anyway.
        }
        closeQuietly(replication);
        if (writer != null) writer.close();
    }

    private static void closeQuietly(Connection c) {
        if (c == null) return;
        try {
            c.close();
        } catch (SQLException ignored) {
            // Nothing to do.
        }
    }

    /**
     * True when {@code failure} may pass by itself, so that starting again (from the checkpoint,
     * losing nothing) is the right response: a lost connection, a server restarting or shutting
     * down, a server out of connections. Configuration and data errors are not retryable.
     */
    public static boolean isRetryable(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof CaptureException ce && ce.retryable()) return true;
        }
        return Supervisor.isRetryable(failure);
    }

    /**
     * Starts capture under a {@link Supervisor}: the worker is started again, from its checkpoint
     * (losing and duplicating nothing), after any retryable failure (see {@link #isRetryable}),
     * with a back-off from 1 s doubling to 30 s; any other failure stops it. This is what
     * {@code annals run} runs.
     *
     * <pre>{@code
     * try (Supervisor<CaptureWorker> capture = CaptureWorker.supervised(options)) {
     *     capture.await();
     * }
     * }</pre>
     */
    public static Supervisor<CaptureWorker> supervised(CaptureOptions options) {
        return supervised(options, null, (failure, delay) -> { });
    }

    /**
     * {@link #supervised(CaptureOptions)}, supervising {@code first} (a worker the caller started,
     * or null to start one) and calling {@code onRestart} before each restart.
     */
    public static Supervisor<CaptureWorker> supervised(CaptureOptions options, CaptureWorker first,
                                                       Supervisor.RestartListener onRestart) {
        Supervisor.Builder<CaptureWorker> b = Supervisor.of("capture " + (options.slotName() == null ? "" : options.slotName()), () -> start(options))
                .awaitingEnd(worker -> {
                    try {
                        worker.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return worker.failure();
                })
                .retryingWhen(CaptureWorker::isRetryable)
                .onRestart(onRestart);
        return (first == null ? b : b.firstWorker(first)).start();
    }

    static String rootMessage(Throwable t) {
        Throwable cur = t;
        while (cur.getCause() != null && cur.getCause() != cur) cur = cur.getCause();
        return cur == t ? String.valueOf(t.getMessage()) : t.getMessage() + " (" + cur.getMessage() + ")";
    }
}
