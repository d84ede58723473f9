package io.annals.capture;

import io.annals.capture.source.Connections;
import io.annals.changelog.ChangeLog;
import io.annals.changelog.Checkpoint;
import io.annals.changelog.Position;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;

/**
 * The health of one capture slot: where it is confirmed, how far behind the server it is, and how
 * much WAL it keeps the server from recycling.
 *
 * <pre>{@code
 * CaptureStatus s = CaptureStatus.read(sourceUrl, sourceUrl, "annals");
 * System.out.println(s.lagBytes() + " bytes behind");
 * }</pre>
 *
 * @param slot            the slot's name
 * @param exists          false when the slot is missing (capture never started, or it was dropped)
 * @param active          whether a worker is streaming from it now
 * @param activePid       the server process serving it, when active
 * @param confirmedLsn    the slot's confirmed flush position
 * @param currentLsn      the server's current WAL position
 * @param lagBytes        WAL between the two
 * @param lag             how long ago the oldest unconfirmed change was committed (zero when caught up;
 *                        the server's own flush lag while a worker is connected)
 * @param retainedWalBytes WAL the slot retains (from its restart position)
 * @param walStatus       PostgreSQL's verdict on the retained WAL: reserved, extended, unreserved or lost
 * @param checkpoint      the change log's checkpoint for this slot, if any
 * @param storedChanges   the changes in the change log: counted when that is cheap (see
 *                        {@link #EXACT_COUNT_BELOW}), else the planner's estimate
 * @param storedChangesExact whether {@code storedChanges} was counted rather than estimated
 * @param statisticsAnalyzedAt for an estimate, when the table statistics it comes from were last
 *                        updated (for a partitioned change log, those of its least recently
 *                        analyzed partition); null when some part was never analyzed
 */
public record CaptureStatus(
        String slot,
        boolean exists,
        boolean active,
        Integer activePid,
        String confirmedLsn,
        String currentLsn,
        long lagBytes,
        Duration lag,
        long retainedWalBytes,
        String walStatus,
        Optional<Checkpoint> checkpoint,
        long storedChanges,
        boolean storedChangesExact,
        Instant statisticsAnalyzedAt) {

    /**
     * Below this many rows by the planner's estimate, the change log's rows are counted: a count of
     * a million narrow rows takes well under a second, and an estimate of a small table that was
     * not analyzed since its last changes can be far off (zero for a new one).
     */
    public static final long EXACT_COUNT_BELOW = 1_000_000;

    /**
     * Reads the status; the source and target may be the same database, and a null slot means the
     * default one ({@link CaptureOptions#defaultSlotName}).
     */
    public static CaptureStatus read(String sourceUrl, String targetUrl, String slot) {
        return read(sourceUrl, targetUrl, slot, EXACT_COUNT_BELOW);
    }

    static CaptureStatus read(String sourceUrl, String targetUrl, String slot, long exactCountBelow) {
        if (slot == null) slot = CaptureOptions.defaultSlotName(CaptureWorker.currentDatabase(sourceUrl));
        Optional<Checkpoint> checkpoint;
        ChangeLog log = ChangeLog.at(targetUrl == null ? sourceUrl : targetUrl);
        try {
            checkpoint = log.checkpoint(slot);
        } catch (RuntimeException e) {
            checkpoint = Optional.empty();
        }
        try (Connection c = Connections.open(sourceUrl, "source")) {
            if (targetUrl != null && !targetUrl.equals(sourceUrl)) {
                Connections.open(targetUrl, "target").close(); // to say clearly when the target cannot be reached
            }
            ChangeLog.StoredChanges stored = log.storedChanges(exactCountBelow);
            try (PreparedStatement ps = c.prepareStatement("SELECT s.active, s.active_pid, s.confirmed_flush_lsn::text,"
                    + " pg_current_wal_lsn()::text, coalesce(pg_current_wal_lsn() - s.confirmed_flush_lsn, 0)::bigint,"
                    + " coalesce(pg_current_wal_lsn() - s.restart_lsn, 0)::bigint, s.wal_status,"
                    + " (SELECT extract(epoch FROM r.flush_lag) FROM pg_stat_replication r WHERE r.pid = s.active_pid)"
                    + " FROM pg_replication_slots s WHERE s.slot_name = ? AND s.database = current_database()")) {
                ps.setString(1, slot);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        return new CaptureStatus(slot, false, false, null, null, null, 0, Duration.ZERO, 0, null, checkpoint,
                                stored.rows(), stored.exact(), stored.statisticsAnalyzedAt().orElse(null));
                    }
                    long lagBytes = rs.getLong(5);
                    double flushLag = rs.getDouble(8);
                    Duration lag = lagBytes == 0 ? Duration.ZERO
                            : rs.wasNull() ? unconfirmedAge(checkpoint) : Duration.ofMillis((long) (flushLag * 1000));
                    return new CaptureStatus(slot, true, rs.getBoolean(1), (Integer) rs.getObject(2), rs.getString(3),
                            rs.getString(4), lagBytes, lag, rs.getLong(6), rs.getString(7), checkpoint,
                            stored.rows(), stored.exact(), stored.statisticsAnalyzedAt().orElse(null));
                }
            }
        } catch (SQLException e) {
            throw Connections.explain(e, sourceUrl, "source");
        }
    }

    /** With no worker connected, the lag is the age of the checkpoint's last move. */
    private static Duration unconfirmedAge(Optional<Checkpoint> checkpoint) {
        return checkpoint.map(cp -> Duration.between(cp.updatedAt(), Instant.now())).filter(d -> !d.isNegative())
                .orElse(Duration.ZERO);
    }

    /** A few lines for humans. */
    public String describe() {
        if (!exists) {
            return "Slot " + slot + ": missing (capture never started here, or the slot was dropped)";
        }
        StringBuilder sb = new StringBuilder();
        sb.append("Slot             ").append(slot).append(active ? " (active, server pid " + activePid + ")" : " (inactive)").append('\n');
        sb.append("Confirmed at     ").append(confirmedLsn).append('\n');
        sb.append("Server WAL at    ").append(currentLsn).append('\n');
        sb.append("Lag              ").append(lagBytes).append(" bytes, ").append(lag.toMillis() / 1000.0).append(" s\n");
        sb.append("WAL retained     ").append(retainedWalBytes >> 20).append(" MiB (").append(retainedWalBytes).append(" bytes), status ")
                .append(walStatus).append('\n');
        checkpoint.ifPresent(cp -> sb.append("Checkpoint       ")
                .append(cp.position() == null ? "no change stored yet" : "last change " + cp.position())
                .append(", confirmed ").append(cp.confirmedLsn() == 0 ? "-" : Position.formatLsn(cp.confirmedLsn()))
                .append(", snapshot ").append(cp.snapshotState().name().toLowerCase(java.util.Locale.ROOT)).append('\n'));
        sb.append("Changes stored   ");
        if (storedChangesExact) {
            sb.append(storedChanges);
        } else {
            sb.append('~').append(storedChanges).append(statisticsAnalyzedAt == null
                    ? " (an estimate; part of the change log has no table statistics yet)"
                    : " (an estimate from the table statistics of " + statisticsAnalyzedAt.truncatedTo(ChronoUnit.SECONDS) + ")");
        }
        return sb.toString();
    }
}
