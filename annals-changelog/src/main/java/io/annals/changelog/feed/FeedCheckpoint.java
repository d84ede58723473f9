package io.annals.changelog.feed;

import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeLogException;
import io.annals.changelog.Position;
import io.annals.changelog.Pruning;
import org.flywaydb.core.Flyway;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Where a feed has got, as stored in {@code annals.feed_checkpoints} beside its output, and the
 * copy of it in the log's registry, {@code annals.feed_consumers}.
 *
 * @param lastId     every change with an id up to this one has been delivered (or filtered out)
 * @param position   the position of the last change delivered, or null when none was
 * @param baselineOf while delivering a retention baseline first: which one (the position its
 *                   retention dropped through); null otherwise
 * @param baselineId while delivering a retention baseline: the id of the last of its rows delivered
 */
record FeedCheckpoint(long lastId, Position position, String baselineOf, Long baselineId) {

    /** The checkpoint once {@code batch} is delivered. */
    FeedCheckpoint after(FeedQuery.Batch batch) {
        Position last = batch.size() == 0 ? position : batch.lastPosition();
        if (baselineOf != null) {
            // The baseline is delivered: now every change kept after it, from the log's start.
            if (batch.size() == 0) return new FeedCheckpoint(0, position, null, null);
            return new FeedCheckpoint(lastId, last, baselineOf, batch.lastRowId());
        }
        return new FeedCheckpoint(Math.max(lastId, batch.scannedTo()), last, null, null);
    }

    /** Creates the checkpoint table in {@code output} if it is missing (its own Flyway history). */
    static void migrate(DataSource output) {
        try {
            Flyway.configure()
                    .dataSource(output)
                    .schemas(ChangeLog.SCHEMA)
                    .table("feed_schema_history")
                    // Schema annals may already hold the change log or the event store: our history starts at 0.
                    .baselineOnMigrate(true)
                    .baselineVersion("0")
                    .locations("classpath:io/annals/changelog/feed/migration")
                    .load()
                    .migrate();
        } catch (RuntimeException e) {
            throw new ChangeLogException("Could not create the feed checkpoint table (annals.feed_checkpoints) in the"
                    + " feed's database: " + e.getMessage(), e);
        }
    }

    static FeedCheckpoint load(Connection output, String consumer) throws SQLException {
        try (PreparedStatement ps = output.prepareStatement("SELECT last_id, position, baseline_of, baseline_id"
                + " FROM annals.feed_checkpoints WHERE consumer = ?")) {
            ps.setString(1, consumer);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) return null;
                String position = rs.getString(2);
                long baselineId = rs.getLong(4);
                return new FeedCheckpoint(rs.getLong(1), position == null ? null : Position.parse(position),
                        rs.getString(3), rs.wasNull() ? null : baselineId);
            }
        }
    }

    /**
     * The checkpoint of a new feed: after the newest change ({@code atEnd}), or at the log's start,
     * behind the latest retention baseline if the log has one.
     */
    static FeedCheckpoint create(Connection output, Connection log, String consumer, boolean atEnd, Long afterId)
            throws SQLException {
        FeedCheckpoint cp = new FeedCheckpoint(0, null, null, null);
        if (afterId != null) {
            cp = new FeedCheckpoint(afterId, null, null, null);
        } else if (atEnd) {
            cp = new FeedCheckpoint(FeedQuery.newestId(log), null, null, null);
        } else {
            try (PreparedStatement ps = log.prepareStatement("SELECT context -> '" + Pruning.BASELINE_CONTEXT_KEY + "' ->> 'dropped_through',"
                    + " min(id) FROM annals.changes WHERE operation = 'SNAPSHOT' AND transaction_id = 0"
                    + " AND jsonb_exists(context, '" + Pruning.BASELINE_CONTEXT_KEY + "') GROUP BY 1 ORDER BY 1 DESC LIMIT 1");
                 ResultSet rs = ps.executeQuery()) {
                if (rs.next()) cp = new FeedCheckpoint(0, null, rs.getString(1), rs.getLong(2) - 1);
            }
        }
        try (PreparedStatement ps = output.prepareStatement("INSERT INTO annals.feed_checkpoints"
                + " (consumer, last_id, baseline_of, baseline_id) VALUES (?, ?, ?, ?) ON CONFLICT (consumer) DO NOTHING")) {
            ps.setString(1, consumer);
            ps.setLong(2, cp.lastId());
            ps.setString(3, cp.baselineOf());
            if (cp.baselineId() == null) ps.setNull(4, Types.BIGINT);
            else ps.setLong(4, cp.baselineId());
            ps.executeUpdate();
        }
        // Another instance may have created it first: its checkpoint wins.
        return load(output, consumer);
    }

    /**
     * Stores this checkpoint in the caller's transaction; with {@code expected}, only if the stored
     * one is still that (another instance of the feed has not moved it).
     */
    boolean store(Connection output, String consumer, FeedCheckpoint expected) throws SQLException {
        String sql = "UPDATE annals.feed_checkpoints SET last_id = ?, position = ?, baseline_of = ?, baseline_id = ?,"
                + " updated_at = now() WHERE consumer = ?"
                + (expected == null ? "" : " AND last_id = ? AND baseline_id IS NOT DISTINCT FROM ?");
        try (PreparedStatement ps = output.prepareStatement(sql)) {
            ps.setLong(1, lastId);
            ps.setString(2, position == null ? null : position.toString());
            ps.setString(3, baselineOf);
            if (baselineId == null) ps.setNull(4, Types.BIGINT);
            else ps.setLong(4, baselineId);
            ps.setString(5, consumer);
            if (expected != null) {
                ps.setLong(6, expected.lastId());
                if (expected.baselineId() == null) ps.setNull(7, Types.BIGINT);
                else ps.setLong(7, expected.baselineId());
            }
            return ps.executeUpdate() == 1;
        }
    }

    /** Sets {@code consumer}'s checkpoint to {@code cp}, creating it if missing, in the caller's transaction. */
    static void put(Connection output, String consumer, FeedCheckpoint cp) throws SQLException {
        try (PreparedStatement ps = output.prepareStatement("INSERT INTO annals.feed_checkpoints"
                + " (consumer, last_id, position, baseline_of, baseline_id) VALUES (?, ?, ?, ?, ?)"
                + " ON CONFLICT (consumer) DO UPDATE SET last_id = excluded.last_id, position = excluded.position,"
                + " baseline_of = excluded.baseline_of, baseline_id = excluded.baseline_id, updated_at = now()")) {
            ps.setString(1, consumer);
            ps.setLong(2, cp.lastId());
            ps.setString(3, cp.position() == null ? null : cp.position().toString());
            ps.setString(4, cp.baselineOf());
            if (cp.baselineId() == null) ps.setNull(5, Types.BIGINT);
            else ps.setLong(5, cp.baselineId());
            ps.executeUpdate();
        }
    }

    /** Removes {@code consumer}'s checkpoint, in the caller's transaction (none when the table is missing). */
    static void delete(Connection output, String consumer) throws SQLException {
        try (Statement s = output.createStatement();
             ResultSet rs = s.executeQuery("SELECT to_regclass('annals.feed_checkpoints') IS NOT NULL")) {
            rs.next();
            if (!rs.getBoolean(1)) return;
        }
        try (PreparedStatement ps = output.prepareStatement("DELETE FROM annals.feed_checkpoints WHERE consumer = ?")) {
            ps.setString(1, consumer);
            ps.executeUpdate();
        }
    }

    /** Registers the feed in the log's registry (idempotent). */
    static void register(Connection log, String consumer) throws SQLException {
        try (PreparedStatement ps = log.prepareStatement(
                "INSERT INTO annals.feed_consumers (consumer) VALUES (?) ON CONFLICT (consumer) DO NOTHING")) {
            ps.setString(1, consumer);
            ps.executeUpdate();
        }
    }

    /** Copies this checkpoint to the log's registry. */
    void report(Connection log, String consumer) throws SQLException {
        try (PreparedStatement ps = log.prepareStatement("UPDATE annals.feed_consumers SET last_id = ?, position = ?,"
                + " updated_at = now() WHERE consumer = ?")) {
            ps.setLong(1, baselineOf == null ? lastId : 0);
            ps.setString(2, baselineOf == null && position != null ? position.toString() : null);
            ps.setString(3, consumer);
            ps.executeUpdate();
        }
    }

    static void recordError(Connection log, String consumer, String error) throws SQLException {
        try (PreparedStatement ps = log.prepareStatement("UPDATE annals.feed_consumers SET last_error = ?,"
                + " last_error_at = now() WHERE consumer = ?")) {
            ps.setString(1, error.length() > 2_000 ? error.substring(0, 2_000) + "..." : error);
            ps.setString(2, consumer);
            ps.executeUpdate();
        }
    }

    static void clearError(Connection log, String consumer) throws SQLException {
        try (PreparedStatement ps = log.prepareStatement("UPDATE annals.feed_consumers SET last_error = NULL,"
                + " last_error_at = NULL WHERE consumer = ?")) {
            ps.setString(1, consumer);
            ps.executeUpdate();
        }
    }

    static List<ChangeFeed.Status> registered(Connection log) throws SQLException {
        List<ChangeFeed.Status> out = new ArrayList<>();
        try (Statement s = log.createStatement();
             ResultSet rs = s.executeQuery("SELECT to_regclass('annals.feed_consumers') IS NOT NULL")) {
            rs.next();
            if (!rs.getBoolean(1)) return out; // no change log here (yet): no feed either
        }
        try (Statement s = log.createStatement();
             ResultSet rs = s.executeQuery("SELECT f.consumer, f.last_id, f.position, f.updated_at, f.last_error,"
                     + " greatest(n.newest - f.last_id, 0), coalesce(extract(epoch FROM now() - (SELECT c.committed_at"
                     + " FROM annals.changes c WHERE c.id > f.last_id ORDER BY c.id LIMIT 1)), 0)"
                     + " FROM annals.feed_consumers f, (SELECT coalesce(max(id), 0) AS newest FROM annals.changes) n"
                     + " ORDER BY f.consumer")) {
            while (rs.next()) {
                String position = rs.getString(3);
                out.add(new ChangeFeed.Status(rs.getString(1), rs.getLong(2),
                        Optional.ofNullable(position).map(Position::parse), rs.getLong(6), Math.max(0, rs.getDouble(7)),
                        rs.getObject(4, OffsetDateTime.class).toInstant(), Optional.ofNullable(rs.getString(5))));
            }
        }
        return out;
    }
}
