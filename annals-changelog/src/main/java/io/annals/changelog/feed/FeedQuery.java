package io.annals.changelog.feed;

import io.annals.changelog.ChangeRow;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.changelog.Pruning;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * How a feed reads the log: the next batch after a checkpoint id, filtered, in id order, and no
 * further than what is visible now. See {@link ChangeFeed} for why that order skips nothing.
 */
final class FeedQuery {

    /** The columns every batch reads, as {@link #row} expects them. */
    private static final String COLUMNS = "c.id, c.position, c.transaction_id, c.committed_at, c.database, c.\"schema\","
            + " c.\"table\", c.operation, c.primary_key::text, c.before::text, c.after::text, c.changed_columns,"
            + " c.context::text, c.withheld";

    /** A retention baseline: SNAPSHOT rows retention wrote, not capture (whose snapshot rows have an empty context). */
    private static final String BASELINE = "c.operation = 'SNAPSHOT' AND c.transaction_id = 0"
            + " AND jsonb_exists(c.context, '" + Pruning.BASELINE_CONTEXT_KEY + "')";

    /**
     * How many ids one batch looks through at most. A filtered feed over a busy log might otherwise
     * scan far for few rows; bounding the window bounds each query, and the checkpoint still moves
     * past every id looked at.
     */
    private static final long WINDOW = 100_000;

    private final String sql;
    private final String countSql;
    private final List<String> parameters = new ArrayList<>();

    FeedQuery(Set<String[]> tables, Set<Operation> operations, String contextJson) {
        StringBuilder filter = new StringBuilder(" AND NOT (" + BASELINE + ")");
        if (!tables.isEmpty()) {
            filter.append(" AND (");
            int i = 0;
            for (String[] t : tables) {
                if (i++ > 0) filter.append(" OR ");
                filter.append("(c.\"schema\" = ? AND c.\"table\" = ?)");
                parameters.add(t[0]);
                parameters.add(t[1]);
            }
            filter.append(')');
        }
        if (!operations.isEmpty()) {
            filter.append(" AND c.operation IN (");
            int i = 0;
            for (Operation o : operations) {
                filter.append(i++ > 0 ? ", ?" : "?");
                parameters.add(o.name());
            }
            filter.append(')');
        }
        if (contextJson != null) {
            filter.append(" AND c.context @> ?::jsonb");
            parameters.add(contextJson);
        }
        // The bound is read in the same snapshot as the rows: every id up to it is either visible
        // here or will never be (see ChangeLog.lockAppends), so the checkpoint may move up to it.
        this.sql = "WITH newest AS (SELECT coalesce(max(id), 0) AS newest FROM annals.changes),"
                + " bound AS (SELECT least(?::bigint + " + WINDOW + ", newest) AS upper, newest FROM newest)"
                + " SELECT b.upper, b.newest, " + COLUMNS.replace("c.", "r.") + " FROM bound b LEFT JOIN LATERAL ("
                + "SELECT " + COLUMNS + " FROM annals.changes c WHERE c.id > ? AND c.id <= b.upper" + filter
                + " ORDER BY c.id LIMIT ?) r ON true ORDER BY r.id";
        // A counting feed's window is its batch size in ids; the counts come grouped from the
        // server, so no image is rendered, sent or parsed, and memory is bounded by the groups.
        this.countSql = "WITH newest AS (SELECT coalesce(max(id), 0) AS newest FROM annals.changes),"
                + " bound AS (SELECT least(?::bigint + ?::bigint, newest) AS upper, newest FROM newest),"
                // The window's rows in id order with a LIMIT of the window's size (it holds no more):
                // without them the planner, not knowing the bound, may scan the whole log per batch.
                + " g AS (SELECT w.\"schema\", w.\"table\", w.operation, count(*) AS n, max(w.id) AS last_id,"
                + " min(w.committed_at) AS oldest FROM bound b CROSS JOIN LATERAL (SELECT c.id, c.\"schema\", c.\"table\","
                + " c.operation, c.committed_at FROM annals.changes c WHERE c.id > ? AND c.id <= b.upper" + filter
                + " ORDER BY c.id LIMIT ?) w GROUP BY 1, 2, 3)"
                + " SELECT b.upper, b.newest, g.\"schema\", g.\"table\", g.operation, g.n, g.last_id, g.oldest,"
                + " (SELECT p.position FROM annals.changes p WHERE p.id = (SELECT max(last_id) FROM g)) AS last_position"
                + " FROM bound b LEFT JOIN g ON true";
    }

    /**
     * A batch, how far it looked, and the log id of each row (for a checkpoint inside the batch).
     * A counting feed's batch has {@code tallies} in place of rows (and no ids).
     */
    record Batch(List<ChangeRow> rows, List<ChangeFeed.Tally> tallies, long size, Position lastPosition,
                 Instant oldest, long[] ids, long lastRowId, long scannedTo, long newestId, boolean more) {

        /** A batch of rows. */
        static Batch of(List<ChangeRow> rows, long[] ids, long lastRowId, long scannedTo, long newestId, boolean more) {
            return new Batch(rows, null, rows.size(), rows.isEmpty() ? null : rows.get(rows.size() - 1).position(),
                    rows.isEmpty() ? null : rows.get(0).committedAt(), ids, lastRowId, scannedTo, newestId, more);
        }

        /** The same batch counted: its rows replaced by their tallies. */
        Batch counted() {
            if (tallies != null) return this;
            record Kind(String schema, String table, Operation operation) {
            }
            Map<Kind, Long> counts = new LinkedHashMap<>();
            for (ChangeRow r : rows) counts.merge(new Kind(r.schema(), r.table(), r.operation()), 1L, Long::sum);
            List<ChangeFeed.Tally> tallied = counts.entrySet().stream().map(e -> new ChangeFeed.Tally(e.getKey().schema(),
                    e.getKey().table(), e.getKey().operation(), e.getValue())).toList();
            return new Batch(List.of(), tallied, size, lastPosition, oldest, ids, lastRowId, scannedTo, newestId, more);
        }
    }

    /** The newest id in the log, or 0 when it is empty. */
    static long newestId(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT coalesce(max(id), 0) FROM annals.changes")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Up to {@code limit} changes after id {@code afterId} that pass the filters. */
    Batch read(Connection c, long afterId, int limit) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            int n = 1;
            ps.setLong(n++, afterId);
            ps.setLong(n++, afterId);
            for (String p : parameters) ps.setString(n++, p);
            ps.setInt(n, limit);
            List<ChangeRow> rows = new ArrayList<>(Math.min(limit, 1024));
            long[] ids = new long[Math.min(limit, 1024)];
            long upper = afterId;
            long newest = afterId;
            long lastId = afterId;
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    upper = rs.getLong(1);
                    newest = rs.getLong(2);
                    if (rs.getObject(3) == null) continue; // no row matched: the bound alone
                    lastId = rs.getLong(3);
                    if (rows.size() == ids.length) ids = Arrays.copyOf(ids, ids.length * 2);
                    ids[rows.size()] = lastId;
                    rows.add(row(rs, 4));
                }
            }
            // A full batch may have stopped before the bound; otherwise everything up to it was seen.
            long scannedTo = rows.size() >= limit ? lastId : Math.max(upper, afterId);
            return Batch.of(rows, ids, lastId, scannedTo, newest, scannedTo < newest);
        }
    }

    /** The plan PostgreSQL chooses for {@link #count} ({@code EXPLAIN}), one line per element. */
    List<String> explainCount(Connection c, long afterId, int window) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("EXPLAIN " + countSql)) {
            bindCount(ps, afterId, window);
            List<String> plan = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) plan.add(rs.getString(1));
            }
            return plan;
        }
    }

    private void bindCount(PreparedStatement ps, long afterId, int window) throws SQLException {
        int n = 1;
        ps.setLong(n++, afterId);
        ps.setLong(n++, window);
        ps.setLong(n++, afterId);
        for (String p : parameters) ps.setString(n++, p);
        ps.setInt(n, window);
    }

    /**
     * The changes in the next {@code window} ids after {@code afterId} that pass the filters,
     * counted by table and kind on the server.
     */
    Batch count(Connection c, long afterId, int window) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(countSql)) {
            bindCount(ps, afterId, window);
            List<ChangeFeed.Tally> tallies = new ArrayList<>();
            long upper = afterId;
            long newest = afterId;
            long lastId = afterId;
            long size = 0;
            Instant oldest = null;
            Position last = null;
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    upper = rs.getLong(1);
                    newest = rs.getLong(2);
                    if (rs.getString(3) == null) continue; // nothing matched: the bound alone
                    long changes = rs.getLong(6);
                    tallies.add(new ChangeFeed.Tally(rs.getString(3), rs.getString(4), Operation.valueOf(rs.getString(5)),
                            changes));
                    size += changes;
                    lastId = Math.max(lastId, rs.getLong(7));
                    Instant since = rs.getObject(8, OffsetDateTime.class).toInstant();
                    if (oldest == null || since.isBefore(oldest)) oldest = since;
                    String position = rs.getString(9);
                    // Only absent if retention dropped the row's partition since: a read again will do.
                    if (position == null) throw new SQLException("The change log's change " + lastId + " vanished while"
                            + " it was being counted (retention dropped its partition); reading again");
                    last = Position.parse(position);
                }
            }
            long scannedTo = Math.max(upper, afterId);
            return new Batch(List.of(), List.copyOf(tallies), size, last, oldest, null, lastId, scannedTo, newest,
                    scannedTo < newest);
        }
    }

    /**
     * The next rows of the retention baseline {@code cp} is delivering, in id order (retention
     * writes them in one statement, so that is their key order); empty when it is all delivered.
     */
    Batch readBaseline(Connection c, FeedCheckpoint cp, int limit) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM annals.changes c WHERE c.id > ? AND "
                + BASELINE + " AND c.context -> '" + Pruning.BASELINE_CONTEXT_KEY + "' ->> 'dropped_through' = ? ORDER BY c.id LIMIT ?")) {
            ps.setLong(1, cp.baselineId());
            ps.setString(2, cp.baselineOf());
            ps.setInt(3, limit);
            List<ChangeRow> rows = new ArrayList<>(Math.min(limit, 1024));
            long[] ids = new long[Math.min(limit, 1024)];
            long lastId = cp.baselineId();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    lastId = rs.getLong(1);
                    if (rows.size() == ids.length) ids = Arrays.copyOf(ids, ids.length * 2);
                    ids[rows.size()] = lastId;
                    rows.add(row(rs, 2));
                }
            }
            return Batch.of(rows, ids, lastId, lastId, Long.MAX_VALUE, true);
        }
    }

    /** The change whose columns, from {@link #COLUMNS}' second on, start at {@code i}. */
    private static ChangeRow row(ResultSet rs, int i) throws SQLException {
        Array changed = rs.getArray(i + 10);
        Array withheld = rs.getArray(i + 12);
        return new ChangeRow(Position.parse(rs.getString(i)), rs.getLong(i + 1),
                rs.getObject(i + 2, OffsetDateTime.class).toInstant(), rs.getString(i + 3), rs.getString(i + 4),
                rs.getString(i + 5), Operation.valueOf(rs.getString(i + 6)), rs.getString(i + 7), rs.getString(i + 8),
                rs.getString(i + 9), changed == null ? null : Arrays.asList((String[]) changed.getArray()),
                rs.getString(i + 11), withheld == null ? null : Arrays.asList((String[]) withheld.getArray()));
    }
}
