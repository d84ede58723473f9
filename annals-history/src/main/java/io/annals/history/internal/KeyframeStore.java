package io.annals.history.internal;

import io.annals.changelog.ChangeLog;
import io.annals.changelog.Position;
import io.annals.history.HistoryException;
import org.flywaydb.core.Flyway;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The writes of keyframes ({@code annals.keyframes}, {@code annals.keyframe_rows}), shared by the
 * keyframes package (built on demand or by the keyframer) and retention (a baseline becomes a
 * keyframe). Every method runs in the caller's transaction, so a keyframe commits whole with
 * whatever else that transaction writes (the keyframer's feed checkpoint, retention's drops).
 *
 * <pre>{@code
 * KeyframeStore.install(dataSource);
 * KeyframeStore.Written k = KeyframeStore.write(tx, TableName.parse("orders"), position, "manual");
 * }</pre>
 */
public final class KeyframeStore {

    /** A keyframe as written: its id and rows; {@code created} is false when it was there already. */
    public record Written(long id, long rows, boolean created) {
    }

    private static final Set<DataSource> INSTALLED = ConcurrentHashMap.newKeySet();

    private KeyframeStore() {
    }

    /** Creates the keyframe tables if they are missing (their own Flyway history, annals.keyframes_schema_history). */
    public static void install(DataSource dataSource) {
        if (INSTALLED.contains(dataSource)) return;
        try {
            Flyway.configure()
                    .dataSource(dataSource)
                    .schemas(ChangeLog.SCHEMA)
                    .table("keyframes_schema_history")
                    // Schema annals already holds the change log: this history starts at 0.
                    .baselineOnMigrate(true)
                    .baselineVersion("0")
                    .locations("classpath:io/annals/history/keyframes/migration")
                    .load()
                    .migrate();
            INSTALLED.add(dataSource);
        } catch (RuntimeException e) {
            throw new HistoryException("Could not create the keyframe tables (annals.keyframes, annals.keyframe_rows,"
                    + " annals.keyframe_progress): " + e.getMessage(), e);
        }
    }

    /**
     * Why {@code table} cannot have a keyframe at {@code at}, or {@code null} when it can: a table
     * whose changes are logged without a primary key (its rows cannot be told apart), or one with no
     * change at or before {@code at} (nothing is known of it then).
     */
    public static String refusal(Connection c, TableName table, Position at) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT EXISTS (SELECT 1 FROM annals.changes WHERE \"schema\" = ?"
                + " AND \"table\" = ? AND primary_key IS NULL AND operation <> 'TRUNCATE'),"
                + " EXISTS (SELECT 1 FROM annals.changes WHERE \"schema\" = ? AND \"table\" = ? AND position <= ?)")) {
            ps.setString(1, table.schema());
            ps.setString(2, table.table());
            ps.setString(3, table.schema());
            ps.setString(4, table.table());
            ps.setString(5, at.toString());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (rs.getBoolean(1)) {
                    return table + " has no primary key (its changes are logged without one), so its rows cannot be"
                            + " told apart and it gets no keyframes (nor time travel); give it a primary key";
                }
                if (!rs.getBoolean(2)) {
                    return "the change log holds no change of " + table + " at or before " + at
                            + " (is it captured? is the position right?)";
                }
                return null;
            }
        }
    }

    /**
     * Writes the keyframe of {@code table} at {@code at}: its rows alive right after the change at
     * {@code at}, built from the nearest earlier keyframe plus the changes since it (or from the
     * table's whole log when it has none). A table that has a keyframe at that position already
     * keeps it (written once, never twice): then that one is returned.
     *
     * @throws HistoryException when the table cannot have one ({@link #refusal})
     */
    public static Written write(Connection tx, TableName table, Position at, String origin) throws SQLException {
        String refusal = refusal(tx, table, at);
        if (refusal != null) throw new HistoryException("Cannot write a keyframe of " + table + ": " + refusal + ".");
        // Chosen before the new header exists, which would otherwise be "the nearest at or before".
        // In key order: the rows then lie in key order on disk, which a read's merge by key and the
        // planner's estimate of that order both favour (on a server before 17, a sort per keyframe).
        LiveImages.Query live = LiveImages.at(tx, table, at.toString(), true);
        OptionalLong id = header(tx, table, at, origin);
        if (id.isEmpty()) return existing(tx, table, at);
        long rows;
        try (PreparedStatement ps = tx.prepareStatement("INSERT INTO annals.keyframe_rows (keyframe_id, primary_key, after, withheld)"
                + " SELECT ?, live.primary_key, live.after, live.withheld FROM (" + live.sql() + ") live")) {
            ps.setLong(1, id.getAsLong());
            live.bind(ps, 2);
            rows = ps.executeLargeUpdate();
        }
        finish(tx, id.getAsLong(), rows);
        return new Written(id.getAsLong(), rows, true);
    }

    private static Written existing(Connection tx, TableName table, Position at) throws SQLException {
        try (PreparedStatement ps = tx.prepareStatement("SELECT id, row_count FROM annals.keyframes"
                + " WHERE \"schema\" = ? AND \"table\" = ? AND position = ?")) {
            ps.setString(1, table.schema());
            ps.setString(2, table.table());
            ps.setString(3, at.toString());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) throw new HistoryException("The keyframe of " + table + " at " + at + " vanished while it was written");
                return new Written(rs.getLong(1), rs.getLong(2), false);
            }
        }
    }

    /**
     * Writes the keyframe of {@code table} from a retention baseline: its SNAPSHOT rows at the
     * positions after {@code lastDropped} and up to {@code end}, which are every row alive at the
     * cut-off. The keyframe sits at {@code end}.
     */
    public static OptionalLong writeFromBaseline(Connection tx, TableName table, Position lastDropped, Position end)
            throws SQLException {
        OptionalLong id = header(tx, table, end, "retention");
        if (id.isEmpty()) return id;
        long rows;
        try (PreparedStatement ps = tx.prepareStatement("INSERT INTO annals.keyframe_rows (keyframe_id, primary_key, after, withheld)"
                + " SELECT ?, primary_key, after, withheld FROM annals.changes WHERE position > ? AND position <= ?"
                + " AND \"schema\" = ? AND \"table\" = ? AND operation = 'SNAPSHOT' AND primary_key IS NOT NULL"
                + " ORDER BY primary_key")) {
            ps.setLong(1, id.getAsLong());
            ps.setString(2, lastDropped.toString());
            ps.setString(3, end.toString());
            ps.setString(4, table.schema());
            ps.setString(5, table.table());
            rows = ps.executeLargeUpdate();
        }
        finish(tx, id.getAsLong(), rows);
        return id;
    }

    /** Deletes the keyframes at or before {@code position} (all tables); returns how many. */
    public static int deleteThrough(Connection tx, Position position) throws SQLException {
        try (PreparedStatement ps = tx.prepareStatement("DELETE FROM annals.keyframes WHERE position <= ?")) {
            ps.setString(1, position.toString());
            return ps.executeUpdate();
        }
    }

    /** Deletes all but the newest {@code keep} keyframes of {@code table}; returns how many went. */
    public static int keepNewest(Connection tx, TableName table, int keep) throws SQLException {
        try (PreparedStatement ps = tx.prepareStatement("DELETE FROM annals.keyframes WHERE id IN (SELECT id FROM annals.keyframes"
                + " WHERE \"schema\" = ? AND \"table\" = ? ORDER BY position DESC OFFSET ?)")) {
            ps.setString(1, table.schema());
            ps.setString(2, table.table());
            ps.setInt(3, keep);
            return ps.executeUpdate();
        }
    }

    /** The tables with a retention baseline after {@code lastDropped}, up to {@code end}. */
    public static List<TableName> baselineTables(Connection tx, Position lastDropped, Position end) throws SQLException {
        try (PreparedStatement ps = tx.prepareStatement("SELECT DISTINCT \"schema\", \"table\" FROM annals.changes"
                + " WHERE position > ? AND position <= ? AND operation = 'SNAPSHOT' ORDER BY 1, 2")) {
            ps.setString(1, lastDropped.toString());
            ps.setString(2, end.toString());
            List<TableName> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(new TableName(rs.getString(1), rs.getString(2)));
            }
            return out;
        }
    }

    private static OptionalLong header(Connection tx, TableName table, Position at, String origin) throws SQLException {
        try (PreparedStatement ps = tx.prepareStatement("INSERT INTO annals.keyframes (\"schema\", \"table\", position,"
                + " committed_at, row_count, origin) VALUES (?, ?, ?, (SELECT committed_at FROM annals.changes"
                + " WHERE position <= ? ORDER BY position DESC LIMIT 1), 0, ?)"
                + " ON CONFLICT (\"schema\", \"table\", position) DO NOTHING RETURNING id")) {
            ps.setString(1, table.schema());
            ps.setString(2, table.table());
            ps.setString(3, at.toString());
            ps.setString(4, at.toString());
            ps.setString(5, origin);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? OptionalLong.of(rs.getLong(1)) : OptionalLong.empty();
            }
        }
    }

    private static void finish(Connection tx, long id, long rows) throws SQLException {
        try (PreparedStatement ps = tx.prepareStatement("UPDATE annals.keyframes SET row_count = ? WHERE id = ?")) {
            ps.setLong(1, rows);
            ps.setLong(2, id);
            ps.executeUpdate();
        }
    }
}
