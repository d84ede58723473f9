package io.annals.history.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The rows of a table alive at a cut of the change log, as SQL: what time travel reads a table
 * with, materialises, and what a reverted TRUNCATE restores. One query, so that "alive at a cut"
 * means the same to all three.
 *
 * <p>{@link #at} reads from the nearest keyframe at or before the cut when there is one (see
 * {@code io.annals.history.keyframes}): its rows, minus what the changes after it replaced, plus
 * those changes' own latest images; else it falls back to {@link #SQL}, a pass over every change
 * of the table up to the cut.
 *
 * <pre>{@code
 * try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM (" + LiveImages.SQL + ") live")) {
 *     LiveImages.bind(ps, TableName.parse("orders"), cut.toString());
 *     ...
 * }
 * }</pre>
 */
public final class LiveImages {

    private LiveImages() {
    }

    /**
     * The key and image of each row alive at the cut: the latest change of each key at or before
     * the cut, kept unless it is a DELETE, older than the table's latest TRUNCATE at or before the
     * cut, or followed (at or before the cut) by an UPDATE that moved the row to another key; that
     * last test compares each key-changing UPDATE's old key by equality, so that it can run as one
     * hash anti-join. Bound by {@link #bind}.
     */
    public static final String SQL = "SELECT latest.primary_key, c.after, c.withheld FROM ("
            // Each key's latest position, read from the per-row index alone (already in key order,
            // no sort, no heap), then one probe of the position index for the row itself: the cost
            // follows the table's changes, never the size of the log.
            + " SELECT primary_key, max(position) AS position FROM annals.changes"
            + " WHERE \"schema\" = ? AND \"table\" = ? AND primary_key IS NOT NULL AND position <= ?"
            + " GROUP BY primary_key) latest"
            + " JOIN annals.changes c ON c.position = latest.position"
            + " WHERE c.operation <> 'DELETE'"
            + " AND latest.position > COALESCE((SELECT max(t.position) FROM annals.changes t"
            + " WHERE t.\"schema\" = ? AND t.\"table\" = ? AND t.primary_key IS NULL AND t.operation = 'TRUNCATE'"
            + " AND t.position <= ?), '')"
            // A row an UPDATE moved to another key after its latest change here is gone from this key.
            // Written as a per-row probe (a scalar subquery with LIMIT, never turned into an anti
            // join): key changes are rare and their partial index is tiny, but the planner cannot
            // see that inside each partition and would otherwise scan every UPDATE of the log.
            + " AND (SELECT 1 FROM annals.changes m WHERE m.\"schema\" = ? AND m.\"table\" = ?"
            + " AND m.operation = 'UPDATE' AND m.position <= ? AND (m.before @> m.primary_key) IS NOT TRUE"
            + " AND m.position > latest.position"
            + " AND (SELECT jsonb_object_agg(k, m.before -> k) FROM jsonb_object_keys(m.primary_key) k) = latest.primary_key"
            + " LIMIT 1) IS NULL";

    /** Binds {@link #SQL}: its parameters are {@link #parameters} in order. */
    public static void bind(PreparedStatement ps, TableName name, String cut) throws SQLException {
        String[] values = parameters(name, cut);
        for (int i = 0; i < values.length; i++) ps.setString(i + 1, values[i]);
    }

    /** The parameters of {@link #SQL}: schema, table and cut, once per part of it. */
    public static String[] parameters(TableName name, String cut) {
        return new String[] {name.schema(), name.table(), cut, name.schema(), name.table(), cut,
                name.schema(), name.table(), cut};
    }

    /**
     * The {@code work_mem} a read of a whole table at a cut sets for its transaction: enough to sort
     * and group about 100,000 rows and the changes after a keyframe without spilling to disk.
     */
    public static final String WORK_MEM = "64MB";

    /**
     * A query for the rows alive at a cut, with its parameters: columns {@code primary_key},
     * {@code after}, {@code withheld}.
     *
     * @param keyframe         the keyframe it starts from, if any
     * @param keyframePosition that keyframe's position
     */
    public record Query(String sql, List<String> parameters, OptionalLong keyframe, Optional<String> keyframePosition) {
        public Query {
            parameters = List.copyOf(parameters);
        }

        /** Binds the parameters from {@code first} on; returns the next free index. */
        public int bind(PreparedStatement ps, int first) throws SQLException {
            int i = first;
            for (String p : parameters) ps.setString(i++, p);
            if (keyframe.isPresent()) ps.setLong(i++, keyframe.getAsLong());
            return i;
        }
    }

    /**
     * The rows alive after the changes of the keyframe's table after its position and up to the
     * cut (its parameters: schema, table, keyframe position and cut, three times, then the
     * keyframe's id), in key order: each key changed since the keyframe takes its latest change,
     * with {@link #SQL}'s rules (a DELETE, a later TRUNCATE or a later move of the key away leaves
     * it out); each key of the keyframe that was not changed since stays as the keyframe has it
     * unless a TRUNCATE or a move of its key came since. Rows are read for those changes and the
     * keyframe's rows only; the per-row index is scanned over the table's whole history, but its
     * entries alone (the position is its last column).
     *
     * <p>Why it is written so: the latest changes come out of an ordered pass over the per-row index
     * in key order, and the keyframe's rows from their primary key (or sorted, when the planner
     * prefers to hash that arm's anti-joins); both arms then merge into key order with no sort of
     * all the rows by their jsonb keys, which took a third of the read. That needs PostgreSQL 17 or
     * later, which knows a CTE's order; older servers sort the result, with the same rows. The
     * images of the changes are read once, the before images only where a key moved, so nothing
     * spills to disk.
     */
    public static final String FROM_KEYFRAME_SQL = fromKeyframe(true);

    /**
     * {@link #FROM_KEYFRAME_SQL} in no particular order, for a copy: the planner is then free to
     * hash the keyframe's rows rather than read them in key order.
     */
    public static final String FROM_KEYFRAME_UNORDERED_SQL = fromKeyframe(false);

    private static String fromKeyframe(boolean inKeyOrder) {
        return "WITH latest AS MATERIALIZED ("
            + " SELECT DISTINCT ON (primary_key) primary_key, position, operation, after, withheld FROM annals.changes"
            + " WHERE \"schema\" = ? AND \"table\" = ? AND position > ? AND position <= ? AND primary_key IS NOT NULL"
            + " ORDER BY primary_key, position DESC),"
            + " truncated AS (SELECT max(position) AS position FROM annals.changes"
            + " WHERE \"schema\" = ? AND \"table\" = ? AND position > ? AND position <= ? AND primary_key IS NULL"
            + " AND operation = 'TRUNCATE'),"
            // The partial index of key-changing UPDATEs answers this (its predicate, word for word);
            // grouped by the key moved away, so that each test against it is one hash probe.
            + " moved AS (SELECT mv.old_key, max(mv.position) AS position FROM (SELECT position,"
            + " (SELECT jsonb_object_agg(k, before -> k) FROM jsonb_object_keys(primary_key) k) AS old_key"
            + " FROM annals.changes WHERE \"schema\" = ? AND \"table\" = ? AND position > ? AND position <= ?"
            + " AND operation = 'UPDATE' AND (before @> primary_key) IS NOT TRUE) mv"
            + " WHERE mv.old_key IS NOT NULL GROUP BY mv.old_key)"
            + " SELECT u.primary_key, u.after, u.withheld FROM ("
            + "(SELECT l.primary_key, l.after, l.withheld FROM latest l LEFT JOIN moved m ON m.old_key = l.primary_key"
            + " WHERE l.operation <> 'DELETE' AND l.position > COALESCE((SELECT position FROM truncated), '')"
            + " AND (m.position IS NULL OR m.position <= l.position)"
            + (inKeyOrder ? " ORDER BY l.primary_key" : "") + ")"
            + " UNION ALL"
            + " (SELECT r.primary_key, r.after, r.withheld FROM annals.keyframe_rows r"
            + " WHERE r.keyframe_id = ? AND (SELECT position FROM truncated) IS NULL"
            + " AND NOT EXISTS (SELECT 1 FROM latest l WHERE l.primary_key = r.primary_key)"
            + " AND NOT EXISTS (SELECT 1 FROM moved m WHERE m.old_key = r.primary_key)"
            + (inKeyOrder ? " ORDER BY r.primary_key" : "") + ")) u"
            + (inKeyOrder ? " ORDER BY u.primary_key" : "");
    }

    /**
     * The query for {@code name}'s rows alive at {@code cut} on connection {@code c}: from the
     * nearest keyframe at or before the cut, else {@link #SQL}. The keyframe is locked
     * ({@code FOR KEY SHARE}) so that pruning cannot remove it before the caller's transaction
     * ends: run the query in the same transaction (auto-commit off). Its rows come in key order
     * when they come from a keyframe (as from the whole log); see {@link #at(Connection, TableName,
     * String, boolean)} for a copy that needs no order.
     */
    public static Query at(Connection c, TableName name, String cut) throws SQLException {
        return at(c, name, cut, true);
    }

    /** {@link #at(Connection, TableName, String)}, in key order only if {@code inKeyOrder}. */
    public static Query at(Connection c, TableName name, String cut, boolean inKeyOrder) throws SQLException {
        OptionalLong keyframe = OptionalLong.empty();
        String keyframePosition = null;
        if (keyframesInstalled(c)) {
            try (PreparedStatement ps = c.prepareStatement("SELECT id, position FROM annals.keyframes"
                    + " WHERE \"schema\" = ? AND \"table\" = ? AND position <= ? ORDER BY position DESC LIMIT 1 FOR KEY SHARE")) {
                ps.setString(1, name.schema());
                ps.setString(2, name.table());
                ps.setString(3, cut);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        keyframe = OptionalLong.of(rs.getLong(1));
                        keyframePosition = rs.getString(2);
                    }
                }
            }
        }
        if (keyframe.isEmpty()) return new Query(SQL, List.of(parameters(name, cut)), keyframe, Optional.empty());
        List<String> range = List.of(name.schema(), name.table(), keyframePosition, cut);
        List<String> parameters = new java.util.ArrayList<>(12);
        for (int i = 0; i < 3; i++) parameters.addAll(range);
        return new Query(inKeyOrder ? FROM_KEYFRAME_SQL : FROM_KEYFRAME_UNORDERED_SQL, parameters, keyframe,
                Optional.of(keyframePosition));
    }

    /** Whether the keyframe tables exist in this database (they are created by the keyframes' migration). */
    public static boolean keyframesInstalled(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT to_regclass('annals.keyframes') IS NOT NULL");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getBoolean(1);
        }
    }
}
