package io.annals.history.keyframes;

import io.annals.changelog.Position;
import io.annals.changelog.Sql;
import io.annals.history.AuditTrail;
import io.annals.history.HistoryException;
import io.annals.history.internal.ChangeLogReader;
import io.annals.history.internal.KeyframeStore;
import io.annals.history.internal.LiveImages;
import io.annals.history.internal.Makers;
import io.annals.history.internal.TableName;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * The keyframes of a change log: build one now, list them, prune old ones, or start the
 * background {@link Keyframer}. Obtained from {@link AuditTrail#keyframes()}; an immutable value.
 *
 * <p>A keyframe of a table at a position holds the table's rows alive right after the change at
 * that position, exactly as {@link io.annals.history.timetravel.AsOf#table(String)} gives them.
 * Once a table has one, reading it as of any cut at or after it starts from the nearest keyframe
 * and reads only the changes after it; cuts before its first keyframe are read from the log as
 * before. A keyframe is built from the previous keyframe plus the changes since it (the table's
 * whole log only for its first), never from the source table, and commits whole or not at all.
 * Tables without a primary key get none (time travel refuses them too).
 *
 * <pre>{@code
 * Keyframes keyframes = trail.keyframes();
 * keyframes.build("public.orders");                      // a keyframe at the log's latest position
 * try (Keyframer k = keyframes.keyframer().everyChanges(100_000).every(Duration.ofHours(1)).start()) {
 *     ...                                                // keyframes written in the background
 * }
 * keyframes.prune(3);                                    // keep the newest 3 of each table
 * }</pre>
 */
public final class Keyframes {

    static {
        // AuditTrail makes these through Makers: a constructor it could call would have to be public API.
        Makers.registerKeyframes(Keyframes::new);
    }

    private final ChangeLogReader log;

    private Keyframes(ChangeLogReader log) {
        this.log = Objects.requireNonNull(log, "log");
    }

    /** Creates the keyframe tables if they are missing; the other methods call it too. */
    public Keyframes install() {
        KeyframeStore.install(log.dataSource());
        return this;
    }

    /**
     * Writes a keyframe of {@code table} at the change log's latest position, unless it has one
     * there already (then returns that one).
     *
     * @throws HistoryException for an unknown table, a table without primary key, or an empty log
     */
    public Keyframe build(String table) {
        return build(table, null);
    }

    /**
     * Writes a keyframe of {@code table} at {@code position} (its rows right after the change at
     * that position), unless it has one there already (then returns that one).
     */
    public Keyframe build(String table, Position position) {
        TableName name = TableName.parse(table);
        install();
        try (Connection c = log.connect()) {
            return Sql.inTransaction(c, tx -> {
                log.checkTables(tx, List.of(name));
                Position at = position != null ? position : latest(tx);
                KeyframeStore.write(tx, name, at, "manual");
                return find(tx, name, at).orElseThrow(() -> new HistoryException("The keyframe of " + name + " at " + at
                        + " vanished while it was written"));
            });
        } catch (SQLException e) {
            throw ChangeLogReader.failure("write a keyframe of " + name, e);
        }
    }

    /** Every keyframe, by table and position. */
    public List<Keyframe> list() {
        return list(null);
    }

    /** The keyframes of {@code table}, oldest first. */
    public List<Keyframe> list(String table) {
        TableName name = table == null ? null : TableName.parse(table);
        try (Connection c = log.connect()) {
            if (!LiveImages.keyframesInstalled(c)) return List.of();
            try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM annals.keyframes"
                    + (name == null ? "" : " WHERE \"schema\" = ? AND \"table\" = ?") + " ORDER BY \"schema\", \"table\", position")) {
                if (name != null) {
                    ps.setString(1, name.schema());
                    ps.setString(2, name.table());
                }
                List<Keyframe> out = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) out.add(read(rs));
                }
                return out;
            }
        } catch (SQLException e) {
            throw ChangeLogReader.failure("list the keyframes", e);
        }
    }

    /**
     * Deletes all but the newest {@code keepPerTable} keyframes of each table; returns how many
     * went. A read that started from one of them finishes first (it holds a lock on its keyframe).
     */
    public int prune(int keepPerTable) {
        if (keepPerTable < 0) {
            throw new IllegalArgumentException("Keep at least 0 keyframes per table (0 deletes them all), not " + keepPerTable);
        }
        try (Connection c = log.connect()) {
            if (!LiveImages.keyframesInstalled(c)) return 0;
            return Sql.inTransaction(c, tx -> {
                int deleted = 0;
                List<TableName> tables = new ArrayList<>();
                try (Statement s = tx.createStatement();
                     ResultSet rs = s.executeQuery("SELECT DISTINCT \"schema\", \"table\" FROM annals.keyframes ORDER BY 1, 2")) {
                    while (rs.next()) tables.add(new TableName(rs.getString(1), rs.getString(2)));
                }
                for (TableName t : tables) deleted += KeyframeStore.keepNewest(tx, t, keepPerTable);
                return deleted;
            });
        } catch (SQLException e) {
            throw ChangeLogReader.failure("prune the keyframes", e);
        }
    }

    /** A background keyframer for this change log, to configure and {@link Keyframer.Builder#start() start}. */
    public Keyframer.Builder keyframer() {
        return new Keyframer.Builder(log);
    }

    // ---------------------------------------------------------------- internals

    static final String COLUMNS = "id, \"schema\", \"table\", position, committed_at, row_count, origin, created_at";

    static Keyframe read(ResultSet rs) throws SQLException {
        OffsetDateTime committed = rs.getObject(5, OffsetDateTime.class);
        return new Keyframe(rs.getLong(1), new TableName(rs.getString(2), rs.getString(3)).toString(),
                Position.parse(rs.getString(4)), Optional.ofNullable(committed).map(OffsetDateTime::toInstant),
                rs.getLong(6), Keyframe.Origin.valueOf(rs.getString(7).toUpperCase(Locale.ROOT)),
                rs.getObject(8, OffsetDateTime.class).toInstant());
    }

    private static Optional<Keyframe> find(Connection c, TableName t, Position at) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM annals.keyframes"
                + " WHERE \"schema\" = ? AND \"table\" = ? AND position = ?")) {
            ps.setString(1, t.schema());
            ps.setString(2, t.table());
            ps.setString(3, at.toString());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(read(rs)) : Optional.empty();
            }
        }
    }

    private static Position latest(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT position FROM annals.changes ORDER BY position DESC LIMIT 1")) {
            if (!rs.next()) throw new HistoryException("The change log is empty: there is nothing to build a keyframe from.");
            return Position.parse(rs.getString(1));
        }
    }

    @Override
    public String toString() {
        return "Keyframes[" + log.dataSource() + "]";
    }
}
