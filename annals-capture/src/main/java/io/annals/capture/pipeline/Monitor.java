package io.annals.capture.pipeline;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.capture.source.Connections;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Watches capture from outside the stream, over an ordinary source connection: it sends heartbeats
 * through an idle slot (otherwise the slot never moves and the source keeps its WAL), reports lag
 * and retained WAL as metrics, warns when the slot retains too much, and sends the sync markers
 * that {@link CaptureWorker#awaitCaughtUp} waits for. A failing query here never stops capture.
 */
public final class Monitor {

    // Operators and tests filter on the facade's logger; the split into classes must not rename it.
    private static final Logger log = LoggerFactory.getLogger(CaptureWorker.class);
    /** Prefix of the non-transactional message {@link #awaitCaughtUp} sends through the stream. */
    static final String SYNC_PREFIX = "annals_sync";
    private static final String HEARTBEAT_PREFIX = "annals_heartbeat";

    private final CaptureOptions options;
    private final CaptureMetrics metrics;
    private final Pipeline pipeline;

    public Monitor(CaptureOptions options, CaptureMetrics metrics, Pipeline pipeline) {
        this.options = options;
        this.metrics = metrics;
        this.pipeline = pipeline;
    }

    public void run() {
        Connection c = null;
        long lastWarning = 0;
        while (pipeline.running()) {
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
                if (System.nanoTime() - pipeline.lastMessageNanos() > options.heartbeatInterval().toNanos()) {
                    try (Statement s = c.createStatement()) {
                        s.execute("SELECT pg_logical_emit_message(false, '" + HEARTBEAT_PREFIX + "', now()::text)");
                    }
                    pipeline.noteActivity();
                }
            } catch (SQLException | RuntimeException e) {
                log.debug("Monitor query failed: {}", e.getMessage());
                Connections.closeQuietly(c);
                c = null;
            }
            LockSupport.parkNanos(Math.min(TimeUnit.SECONDS.toNanos(5), options.heartbeatInterval().toNanos()));
        }
        Connections.closeQuietly(c);
    }

    /** See {@link CaptureWorker#awaitCaughtUp}. */
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
        pipeline.awaitSynced(lsn, timeout);
    }
}
