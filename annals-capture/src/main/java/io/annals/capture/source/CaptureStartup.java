package io.annals.capture.source;

import io.annals.capture.CaptureException;
import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.capture.SnapshotMode;
import io.annals.capture.snapshot.Snapshotter;
import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeLogWriter;
import io.annals.changelog.Checkpoint;
import io.annals.changelog.Position;
import io.annals.changelog.SnapshotState;
import org.postgresql.PGConnection;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;
import org.postgresql.replication.ReplicationSlotInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Everything that happens once, before streaming: checks the source, migrates the change log,
 * makes the publication and slot, takes the initial snapshot (or throws away one a crash cut
 * short), and opens the replication stream at the checkpoint. Kept apart from the loops because
 * its ordering rules are about crashes between start-up steps, not about the stream.
 */
public final class CaptureStartup {

    // Operators and tests filter on the facade's logger; the split into classes must not rename it.
    private static final Logger log = LoggerFactory.getLogger(CaptureWorker.class);

    /** What start-up opened and found; the caller owns the connections and the writer from here on. */
    public record Started(SourceSetup.SourceInfo source, ChangeLogWriter writer, Checkpoint checkpoint,
                   Connection replication, PGReplicationStream stream) {
    }

    private final CaptureOptions options;
    private SourceSetup.SourceInfo source;
    private ChangeLogWriter writer;
    private Connection replication;
    private PGReplicationStream stream;

    public CaptureStartup(CaptureOptions options) {
        this.options = options;
    }

    /** Runs start-up; on failure, closes whatever it had opened. */
    public Started run() throws SQLException {
        try {
            Checkpoint checkpoint = prepare();
            // Transactions streamed before a stop are streamed again from their beginning.
            writer.discardAllStaged();
            startStream(checkpoint == null ? 0 : checkpoint.confirmedLsn());
            return new Started(source, writer, checkpoint, replication, stream);
        } catch (SQLException | RuntimeException e) {
            Connections.closeResources(stream, replication, writer);
            throw e;
        }
    }

    private Checkpoint prepare() throws SQLException {
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
                        + Connections.redact(options.targetUrl()) + "): " + Connections.rootMessage(e)
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
        return checkpoint;
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
                    + " to guess. Inspect the change log's checkpoint of consumer '" + options.slotName() + "'.");
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
}
