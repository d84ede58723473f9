package io.annals.capture;

import io.annals.changelog.ChangeLog;
import io.annals.changelog.Checkpoint;
import io.annals.changelog.Position;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
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
 * @param storedChanges   the rows in annals.changes: counted when that is cheap (see
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

    /** A count that takes longer (the estimate was stale, and the table big) gives way to the estimate. */
    private static final int COUNT_TIMEOUT_SECONDS = 5;

    /** The rows stored in the change log, counted or estimated. */
    private record Stored(long rows, boolean exact, Instant analyzedAt) {
        static final Stored NONE = new Stored(0, true, null);
    }

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
        Stored stored;
        try {
            checkpoint = ChangeLog.at(targetUrl == null ? sourceUrl : targetUrl).checkpoint(slot);
        } catch (RuntimeException e) {
            checkpoint = Optional.empty();
        }
        try (Connection c = Connections.open(sourceUrl, "source")) {
            try (Connection t = targetUrl == null || targetUrl.equals(sourceUrl) ? null : Connections.open(targetUrl, "target")) {
                stored = storedChanges(t == null ? c : t, exactCountBelow);
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT s.active, s.active_pid, s.confirmed_flush_lsn::text,"
                    + " pg_current_wal_lsn()::text, coalesce(pg_current_wal_lsn() - s.confirmed_flush_lsn, 0)::bigint,"
                    + " coalesce(pg_current_wal_lsn() - s.restart_lsn, 0)::bigint, s.wal_status,"
                    + " (SELECT extract(epoch FROM r.flush_lag) FROM pg_stat_replication r WHERE r.pid = s.active_pid)"
                    + " FROM pg_replication_slots s WHERE s.slot_name = ? AND s.database = current_database()")) {
                ps.setString(1, slot);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        return new CaptureStatus(slot, false, false, null, null, null, 0, Duration.ZERO, 0, null, checkpoint,
                                stored.rows(), stored.exact(), stored.analyzedAt());
                    }
                    long lagBytes = rs.getLong(5);
                    double flushLag = rs.getDouble(8);
                    Duration lag = lagBytes == 0 ? Duration.ZERO
                            : rs.wasNull() ? unconfirmedAge(c, checkpoint) : Duration.ofMillis((long) (flushLag * 1000));
                    return new CaptureStatus(slot, true, rs.getBoolean(1), (Integer) rs.getObject(2), rs.getString(3),
                            rs.getString(4), lagBytes, lag, rs.getLong(6), rs.getString(7), checkpoint,
                            stored.rows(), stored.exact(), stored.analyzedAt());
                }
            }
        } catch (SQLException e) {
            throw Connections.explain(e, sourceUrl, "source");
        }
    }

    private static Stored storedChanges(Connection c, long exactCountBelow) throws SQLException {
        long estimate;
        Instant analyzedAt;
        // A partitioned change log's estimate is its partitions' sum (autovacuum analyzes
        // partitions, never their parent).
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("WITH parts AS ("
                     + " SELECT p.oid, p.reltuples FROM pg_class p WHERE p.oid = to_regclass('annals.changes') AND p.relkind = 'r'"
                     + " UNION ALL SELECT p.oid, p.reltuples FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhrelid"
                     + " WHERE i.inhparent = to_regclass('annals.changes'))"
                     + " SELECT to_regclass('annals.changes') IS NOT NULL, coalesce(sum(greatest(p.reltuples, 0)), 0)::bigint,"
                     + " CASE WHEN bool_and(greatest(st.last_analyze, st.last_autoanalyze) IS NOT NULL)"
                     + " THEN min(greatest(st.last_analyze, st.last_autoanalyze)) END"
                     + " FROM parts p LEFT JOIN pg_stat_user_tables st ON st.relid = p.oid")) {
            rs.next();
            if (!rs.getBoolean(1)) return Stored.NONE;
            estimate = rs.getLong(2);
            java.time.OffsetDateTime at = rs.getObject(3, java.time.OffsetDateTime.class);
            analyzedAt = at == null ? null : at.toInstant();
        }
        if (estimate < exactCountBelow) {
            try (Statement s = c.createStatement()) {
                s.setQueryTimeout(COUNT_TIMEOUT_SECONDS);
                try (ResultSet rs = s.executeQuery("SELECT count(*) FROM annals.changes")) {
                    rs.next();
                    return new Stored(rs.getLong(1), true, null);
                }
            } catch (SQLException e) {
                if (!"57014".equals(e.getSQLState())) throw e; // 57014: cancelled by the timeout
            }
        }
        return new Stored(estimate, false, analyzedAt);
    }

    /** With no worker connected, the lag is the age of the checkpoint's last stored commit. */
    private static Duration unconfirmedAge(Connection c, Optional<Checkpoint> checkpoint) throws SQLException {
        if (checkpoint.isEmpty()) return Duration.ZERO;
        try (PreparedStatement ps = c.prepareStatement("SELECT extract(epoch FROM now() - updated_at) FROM annals.checkpoints WHERE consumer = ?")) {
            ps.setString(1, checkpoint.get().consumer());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Duration.ofMillis((long) (rs.getDouble(1) * 1000)) : Duration.ZERO;
            }
        } catch (SQLException e) {
            return Duration.ZERO;
        }
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
