package io.annals.capture.pipeline;

import io.annals.capture.CaptureOptions;
import io.annals.capture.assembly.Boundary.StreamedAbort;
import io.annals.capture.assembly.Boundary.StreamedCommit;
import io.annals.capture.assembly.Boundary.TransactionEnd;
import io.annals.capture.assembly.ChangeAssembler;
import io.annals.capture.assembly.PendingChange;
import io.annals.capture.pipeline.Pipeline.AbortTask;
import io.annals.capture.pipeline.Pipeline.BatchTask;
import io.annals.capture.pipeline.Pipeline.CommitTask;
import io.annals.capture.pipeline.Pipeline.StopTask;
import io.annals.capture.pipeline.Pipeline.SyncTask;
import io.annals.capture.pgoutput.PgOutputDecoder;
import io.annals.capture.pgoutput.PgOutputMessage;
import io.annals.capture.value.PgTypes;
import io.annals.capture.source.Connections;
import io.annals.changelog.Checkpoint;
import io.annals.changelog.CrashPoint;
import io.annals.changelog.Operation;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;

import java.nio.ByteBuffer;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.concurrent.locks.LockSupport;

/**
 * The reader thread's loop: decodes the slot's pgoutput stream, assembles changes, and cuts them
 * into batches for the writer. It also owns the replication stream's status updates, because the
 * stream is not safe to use from two threads; it confirms only what the writer reports durable.
 */
public final class StreamReader {

    /**
     * A batch is also cut at about this many characters, so that rows with large values cannot
     * make the (bounded) queue hold more memory than a small heap has.
     */
    private static final long MAX_BATCH_CHARS = 8L << 20;

    /**
     * How long the reader sleeps when the stream has nothing for it. The writer wakes it at once when
     * it finishes a batch, so this bounds only how late a change that arrives on a quiet stream is seen.
     */
    private static final long IDLE_PARK_NANOS = 1_000_000;

    private final CaptureOptions options;
    /** {@link CaptureOptions#linger()} in nanoseconds: how long a batch gathers at least. */
    private final long lingerNanos;
    private final Pipeline pipeline;
    private final PGReplicationStream stream;
    private final PgOutputDecoder decoder;
    private final ChangeAssembler assembler;
    /**
     * The batch being gathered. Handed over whole and replaced, never copied: a copy would be a
     * different list class for one or two changes (List.copyOf) than for many, and code the JIT
     * compiled for a backlog's large batches was thrown away and recompiled, for up to 0.8 s of a
     * core each time, when a trickle of one-row transactions followed.
     */
    private ArrayList<PendingChange> batch = new ArrayList<>();
    private long batchConfirm;
    private long batchChars;
    private long batchStartedNanos;
    private long batchStreamNanos;
    private Instant lastCommittedAt;
    private long confirmedToServer;

    public StreamReader(CaptureOptions options, Pipeline pipeline, PGReplicationStream stream, int protocolVersion,
                 Checkpoint checkpoint) {
        this.options = options;
        this.lingerNanos = options.linger().toNanos();
        this.pipeline = pipeline;
        this.stream = stream;
        this.decoder = new PgOutputDecoder(protocolVersion);
        PgTypes types = new PgTypes(() -> Connections.open(options.sourceUrl(), "source"));
        this.assembler = new ChangeAssembler(options, types, () -> Connections.open(options.sourceUrl(), "source"), null,
                checkpoint, this::collect);
    }

    private void collect(PendingChange change) {
        if (batch.isEmpty()) batchStartedNanos = System.nanoTime();
        if (!change.staged() && change.operation != Operation.SNAPSHOT && !change.committedAt.equals(lastCommittedAt)) {
            // Once per transaction: how long the server, the stream and the scheduler took to bring it here.
            lastCommittedAt = change.committedAt;
            batchStreamNanos = Math.max(batchStreamNanos, Duration.between(change.committedAt, Instant.now()).toNanos());
        }
        batch.add(change);
        batchChars += change.approximateChars();
    }

    public void run() {
        pipeline.readerStarted(Thread.currentThread());
        try {
            while (pipeline.running()) {
                ByteBuffer buffer = stream.readPending();
                if (buffer == null) {
                    idle();
                    continue;
                }
                pipeline.noteActivity();
                PgOutputMessage message = decoder.decode(buffer);
                switch (assembler.accept(message)) {
                    case null -> { }
                    case TransactionEnd end -> batchConfirm = end.endLsn();
                    case StreamedCommit commit -> {
                        handOff();
                        pipeline.enqueue(new CommitTask(commit));
                    }
                    case StreamedAbort abort -> {
                        handOff();
                        pipeline.enqueue(new AbortTask(abort));
                    }
                }
                // Adaptive batching: a batch goes to the writer as soon as the writer is free and a
                // transaction has ended, so that a trickle is stored transaction by transaction; while
                // the writer is busy, changes gather into the next batch (group commit), which under a
                // backlog fills up to the batch size. A transaction is cut only when the batch is full
                // or the stream pauses (see idle), not merely because the writer is free.
                if (batch.size() >= options.batchSize() || batchChars >= MAX_BATCH_CHARS
                        || (pipeline.nothingInFlight() && !assembler.inTransaction() && lingered())) {
                    handOff();
                }
                if (message instanceof PgOutputMessage.Message m && !m.transactional() && Monitor.SYNC_PREFIX.equals(m.prefix())) {
                    handOff();
                    pipeline.enqueue(new SyncTask(m.lsn()));
                }
            }
            handOff();
        } catch (Throwable t) {
            pipeline.fail(t);
        } finally {
            pipeline.enqueueQuietly(new StopTask());
            pipeline.threadStopped();
        }
    }

    /**
     * Nothing to read right now: hand over what we have if the writer is free (else it goes with the
     * next batch, as soon as the writer wakes us), and tell the server how far we are.
     */
    private void idle() throws SQLException, InterruptedException {
        if (!batch.isEmpty() || batchConfirm != 0) {
            if (pipeline.nothingInFlight() && lingered()) handOff();
        } else if (!assembler.inTransaction() && !assembler.hasOpenStreams() && pipeline.nothingInFlight()) {
            // Everything received is stored; keepalives and skipped transactions may move the slot on.
            long received = stream.getLastReceiveLSN().asLong();
            pipeline.advanceDurableLsn(received);
        }
        confirm();
        LockSupport.parkNanos(IDLE_PARK_NANOS);
    }

    /** Whether the batch has gathered for the linger (always, without one, or with no change in it). */
    private boolean lingered() {
        return lingerNanos == 0 || batch.isEmpty() || System.nanoTime() - batchStartedNanos >= lingerNanos;
    }

    /**
     * Confirms the slot up to what the writer has stored durably, never further. Also called by
     * the facade once the threads have stopped, for the last status update.
     */
    public void confirm() throws SQLException {
        long durable = pipeline.durableLsn();
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
        Batch b = new Batch(batch, batchConfirm, batchStreamNanos, batch.isEmpty() ? 0 : batchStartedNanos,
                System.nanoTime());
        batch = new ArrayList<>();
        batchConfirm = 0;
        batchChars = 0;
        batchStreamNanos = 0;
        pipeline.enqueue(new BatchTask(b));
    }
}
