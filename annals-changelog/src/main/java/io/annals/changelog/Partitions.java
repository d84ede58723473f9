package io.annals.changelog;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Makes sure {@code annals.changes} has partitions for the commit times about to be written.
 *
 * <p>The ranges known to exist are cached, so the common case (a batch inside the current month)
 * is a lookup in memory. A missing range is created by {@code annals.create_change_partitions} on a
 * connection of its own, in a short transaction of its own: never inside the writer's transaction,
 * which must not hold the lock it takes (nor wait for it while holding rows of its own).
 *
 * <p>Not thread-safe: one per writer.
 */
final class Partitions {

    /** Longer than any partition creation takes; short enough to report a stuck lock instead of hanging. */
    private static final String LOCK_TIMEOUT = "60s";

    private final DataSource dataSource;
    /** Known partitions, from instant to end instant (exclusive). */
    private final TreeMap<Instant, Instant> known = new TreeMap<>();

    Partitions(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /**
     * Ensures that each row's commit time has a partition. Only the partitions the rows fall in are
     * created, not every one between the oldest and newest row (a row from 1970 in a batch of today's
     * must not create 700 empty partitions).
     */
    void ensureFor(List<ChangeRow> rows) {
        Instant lo = null;
        Instant hi = null;
        for (ChangeRow r : rows) {
            Instant t = r.committedAt();
            if (lo != null && !t.isBefore(lo) && t.isBefore(hi)) continue; // most rows: the previous row's partition
            Map.Entry<Instant, Instant> p = partitionOf(t);
            if (p == null) {
                ensure(t, t);
                p = partitionOf(t);
            }
            lo = p.getKey();
            hi = p.getValue();
        }
    }

    /** Ensures that every instant in [from, to] has a partition. */
    void ensure(Instant from, Instant to) {
        if (covered(from, to)) return;
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(true);
            try (Statement s = c.createStatement()) {
                s.execute("SET lock_timeout = '" + LOCK_TIMEOUT + "'");
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT annals.create_change_partitions(?, ?)")) {
                ps.setObject(1, OffsetDateTime.ofInstant(from, ZoneOffset.UTC));
                ps.setObject(2, OffsetDateTime.ofInstant(to, ZoneOffset.UTC));
                ps.execute();
            }
            known.clear();
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT from_time, to_time FROM annals.change_partitions")) {
                while (rs.next()) {
                    known.put(rs.getObject(1, OffsetDateTime.class).toInstant(), rs.getObject(2, OffsetDateTime.class).toInstant());
                }
            }
        } catch (SQLException e) {
            String hint = "55P03".equals(e.getSQLState())
                    ? " annals.changes stayed locked for " + LOCK_TIMEOUT + " (a retention run, or a long query or"
                    + " transaction on it?); the write is retried when capture restarts."
                    : "";
            throw new ChangeLogException("Could not create the partitions of annals.changes for commit times " + from
                    + " to " + to + ": " + e.getMessage() + hint, e);
        }
        if (!covered(from, to)) {
            throw new ChangeLogException("annals.changes still has no partition for all of " + from + " to " + to
                    + " after creating them; is a partition covering part of it attached outside Annals?");
        }
    }

    /** Whether {@code t} falls in a partition known to exist (no query: what the cache knows). */
    boolean has(Instant t) {
        return partitionOf(t) != null;
    }

    /** Forgets what is known: a partition may have been dropped (by retention) since. */
    void forget() {
        known.clear();
    }

    private Map.Entry<Instant, Instant> partitionOf(Instant t) {
        Map.Entry<Instant, Instant> p = known.floorEntry(t);
        return p != null && p.getValue().isAfter(t) ? p : null;
    }

    private boolean covered(Instant from, Instant to) {
        Instant at = from;
        while (true) {
            Map.Entry<Instant, Instant> p = known.floorEntry(at);
            if (p == null || !p.getValue().isAfter(at)) return false;
            if (p.getValue().isAfter(to)) return true;
            at = p.getValue();
        }
    }
}
