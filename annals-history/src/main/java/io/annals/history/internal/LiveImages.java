package io.annals.history.internal;

import java.sql.PreparedStatement;
import java.sql.SQLException;

/**
 * The rows of a table alive at a cut of the change log, as SQL: what time travel reads a table
 * with, materialises, and what a reverted TRUNCATE restores. One query, so that "alive at a cut"
 * means the same to all three.
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
}
