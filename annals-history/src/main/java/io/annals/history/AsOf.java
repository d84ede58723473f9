package io.annals.history;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.Position;

import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Time travel: rows and tables as they stood at a cut of the change log, replayed from it.
 * Obtained from {@link AuditTrail#asOf(Instant)} or {@link AuditTrail#asOf(Position)}; an immutable
 * value, cheap to keep and safe to share.
 *
 * <p>The cut is a {@link Position}: every change at or before it counts, none after. For an instant
 * it is the last position committed at or before that instant, resolved when the {@code AsOf} is
 * made. Changes are stored in commit order, so that one position is exactly "every change with
 * {@code committed_at <= instant}".
 *
 * <p>A row's image at the cut is the {@code after} of its latest change at or before the cut; the
 * row is absent if that change is a DELETE, if a TRUNCATE of its table came after it (at or before
 * the cut), or if it has no change at or before the cut. A SNAPSHOT change is the baseline image of
 * a row that existed when capture began.
 *
 * <p>Errors are {@link HistoryException}s that say what is wrong: an unknown table; a table with no
 * primary key (its changes cannot be told apart row by row); a cut before the change log of the
 * table begins (its first change, or, when the table was snapshotted, its first SNAPSHOT change),
 * since nothing is known of the table before that.
 *
 * <pre>{@code
 * record Order(long id, String status) {}
 *
 * AsOf lastMonth = trail.asOf(Instants.parse("2026-11-01"));
 * Optional<Order> order = lastMonth.row("orders", Map.of("id", 7), Order.class);
 * try (Stream<JsonNode> orders = lastMonth.table("public.orders")) {   // ordered by primary key
 *     orders.forEach(System.out::println);
 * }
 * }</pre>
 */
public final class AsOf {

    private final AuditTrail trail;
    /** The cut; {@code null} when an instant came before the first change of the log. */
    private final Position cut;
    /** The instant the cut was resolved from, or {@code null} for a position cut. */
    private final Instant instant;
    private final int fetchSize;

    AsOf(AuditTrail trail, Position cut, Instant instant, int fetchSize) {
        this.trail = Objects.requireNonNull(trail, "trail");
        this.cut = cut;
        this.instant = instant;
        this.fetchSize = fetchSize;
    }

    /**
     * The cut: the last position that counts. Empty when this {@code AsOf} was made for an instant
     * before the change log's first change (every query then fails: nothing is known so early).
     */
    public Optional<Position> position() {
        return Optional.ofNullable(cut);
    }

    /** The instant this cut was made for, or empty when it was made for a position. */
    public Optional<Instant> instant() {
        return Optional.ofNullable(instant);
    }

    /** This cut, with {@link #table(String)} fetching {@code rows} rows per round trip (default {@value ChangeQuery#DEFAULT_FETCH_SIZE}). */
    public AsOf fetchSize(int rows) {
        if (rows < 1) throw new IllegalArgumentException("fetchSize must be at least 1, not " + rows);
        return new AsOf(trail, cut, instant, rows);
    }

    /**
     * The image of one row at the cut ({@code to_jsonb} of the row, exactly as stored), or empty
     * when the row did not exist then. Served by the change log's per-row index.
     *
     * @param table      {@code schema.table}, or a bare name for schema {@code public}
     * @param primaryKey all key columns, e.g. {@code Map.of("id", 7)}, compared as JSON
     */
    public Optional<JsonNode> row(String table, Map<String, ?> primaryKey) {
        TableName name = TableName.parse(table);
        String key = keyJson(primaryKey);
        try (Connection c = trail.connect()) {
            check(c, name);
            try (PreparedStatement ps = c.prepareStatement(ROW_SQL)) {
                bindRow(ps, name, key);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) return Optional.empty();
                    if ("DELETE".equals(rs.getString(1)) || rs.getBoolean(3)) return Optional.empty();
                    return Optional.ofNullable(trail.json(rs.getString(2)));
                }
            }
        } catch (SQLException e) {
            throw AuditTrail.failure("read " + name + " as of " + describeCut(), e);
        }
    }

    /** The image of one row at the cut mapped to {@code type} with the trail's mapper (see {@link #row(String, Map)}). */
    public <T> Optional<T> row(String table, Map<String, ?> primaryKey, Class<T> type) {
        Objects.requireNonNull(type, "type");
        Optional<JsonNode> image = row(table, primaryKey);
        if (image.isEmpty() || image.get().isNull()) return Optional.empty();
        try {
            return Optional.ofNullable(trail.map(image.get(), type));
        } catch (IOException | IllegalArgumentException e) {
            throw new HistoryException("Could not map the row " + primaryKey + " of " + TableName.parse(table) + " as of "
                    + describeCut() + " to " + type.getName() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Every row of {@code table} alive at the cut, ordered by primary key (jsonb order), from a
     * server-side cursor that fetches {@link #fetchSize(int)} rows at a time so that memory stays
     * flat for big tables. The stream holds a connection and a transaction until it is closed: use
     * try-with-resources.
     */
    public Stream<JsonNode> table(String table) {
        TableName name = TableName.parse(table);
        Connection c = trail.connect();
        ChangeQuery.Resources resources = new ChangeQuery.Resources(c);
        try {
            resources.autoCommit = c.getAutoCommit();
            c.setAutoCommit(false); // a server-side cursor lives in a transaction
            check(c, name);
            try (java.sql.Statement s = c.createStatement()) {
                // Each key's latest position is best found by one ordered pass over the per-row
                // index (a streaming group, already in key order, so no sort follows either); the
                // planner's estimates for jsonb keys tempt it into hashing millions of index
                // entries and sorting the result on disk instead. For this transaction only.
                s.execute("SET LOCAL enable_hashagg = off");
            }
            resources.statement = c.prepareStatement(TABLE_SQL, ResultSet.TYPE_FORWARD_ONLY, ResultSet.CONCUR_READ_ONLY);
            resources.statement.setFetchSize(fetchSize);
            bindLiveImages(resources.statement, name);
            resources.rows = resources.statement.executeQuery();
        } catch (SQLException e) {
            resources.close();
            throw AuditTrail.failure("read " + name + " as of " + describeCut(), e);
        } catch (RuntimeException e) {
            resources.close();
            throw e;
        }
        return resources.stream(r -> trail.json(r.getString(1)), "read " + name + " as of " + describeCut());
    }

    /**
     * How {@code table} changed from this cut to a later one: each row added, removed or changed
     * (with its column diffs), ordered by primary key, from a server-side cursor. Only rows changed
     * between the two cuts are read (through the per-row index), so the cost follows the number of
     * changes in between, not the size of the table; a TRUNCATE in between makes every row of the
     * earlier cut a candidate. The stream holds a connection until it is closed.
     */
    Stream<RowDiff> diff(String table, AsOf later) {
        TableName name = TableName.parse(table);
        if (later.cut != null && cut != null && later.cut.compareTo(cut) < 0) {
            throw new IllegalArgumentException("A diff goes from an earlier cut to a later one, but " + describeCut()
                    + " is after " + later.describeCut() + "; swap them");
        }
        String what = "diff " + name + " from " + describeCut() + " to " + later.describeCut();
        Connection c = trail.connect();
        ChangeQuery.Resources resources = new ChangeQuery.Resources(c);
        try {
            resources.autoCommit = c.getAutoCommit();
            c.setAutoCommit(false);
            check(c, name);
            later.check(c, name);
            resources.statement = c.prepareStatement(DIFF_SQL, ResultSet.TYPE_FORWARD_ONLY, ResultSet.CONCUR_READ_ONLY);
            resources.statement.setFetchSize(fetchSize);
            resources.statement.setString(1, name.schema());
            resources.statement.setString(2, name.table());
            resources.statement.setString(3, cut.toString());
            resources.statement.setString(4, later.cut.toString());
            resources.rows = resources.statement.executeQuery();
        } catch (SQLException e) {
            resources.close();
            throw AuditTrail.failure(what, e);
        } catch (RuntimeException e) {
            resources.close();
            throw e;
        }
        return resources.stream(r -> RowDiff.of(trail.json(r.getString(1)), trail.json(r.getString(2)),
                trail.json(r.getString(3))), what).filter(Objects::nonNull);
    }

    /**
     * The named tables as they stood at this cut, to be written as plain tables into a schema
     * with {@link Materialization#into(String)}: all at this one cut, in one transaction.
     *
     * <pre>{@code
     * trail.asOf(Instants.parse("2026-11-01")).materialize("orders", "customers").into("as_of_nov_1");
     * }</pre>
     */
    public Materialization materialize(String... tables) {
        if (tables.length == 0) {
            throw new IllegalArgumentException("Name at least one table to materialize, or use materializeAll()");
        }
        List<TableName> names = new ArrayList<>();
        for (String t : tables) {
            TableName name = TableName.parse(t);
            if (!names.contains(name)) names.add(name);
        }
        return new Materialization(this, trail, names, false);
    }

    /**
     * Every table of the change log as it stood at this cut (see {@link #materialize(String...)}).
     * Tables that cannot be read at the cut (no primary key, or a log that begins later) are left
     * out and listed in {@link Materialization.Result#skipped()}.
     */
    public Materialization materializeAll() {
        return new Materialization(this, trail, List.of(), false);
    }

    // ---------------------------------------------------------------- SQL

    /**
     * Whether an UPDATE that changed a row's primary key moved the row with key {@code key} away
     * after {@code after} and at or before {@code upTo} (SQL expressions). Such an UPDATE is logged
     * under the new key with the old key in its before image, so the old key's own history does not
     * show that it is gone.
     */
    private static String movedAway(String schema, String table, String key, String after, String upTo) {
        return "EXISTS (SELECT 1 FROM annals.changes m WHERE m.\"schema\" = " + schema + " AND m.\"table\" = " + table
                + " AND m.operation = 'UPDATE' AND m.position > " + after + " AND m.position <= " + upTo
                + " AND (m.before @> m.primary_key) IS NOT TRUE AND m.before @> " + key + ")";
    }

    /**
     * The row's latest change at or before the cut (an index scan backward on the per-row index,
     * stopping at the first entry), and whether a TRUNCATE of its table, or an UPDATE that changed
     * its key, came after it.
     */
    private static final String ROW_SQL = "SELECT c.operation, c.after::text,"
            + " EXISTS (SELECT 1 FROM annals.changes t WHERE t.\"schema\" = c.\"schema\" AND t.\"table\" = c.\"table\""
            + " AND t.primary_key IS NULL AND t.operation = 'TRUNCATE' AND t.position > c.position AND t.position <= ?)"
            + " OR " + movedAway("c.\"schema\"", "c.\"table\"", "c.primary_key", "c.position", "?")
            + " FROM (SELECT \"schema\", \"table\", primary_key, operation, after, position FROM annals.changes"
            + " WHERE \"schema\" = ? AND \"table\" = ? AND primary_key = ?::jsonb AND position <= ?"
            + " ORDER BY position DESC LIMIT 1) c";

    /**
     * The key and image of each row alive at the cut: the latest change of each key at or before
     * the cut, kept unless it is a DELETE, older than the table's latest TRUNCATE at or before the
     * cut, or followed (at or before the cut) by an UPDATE that moved the row to another key; that
     * last test compares each key-changing UPDATE's old key by equality, so that it can run as one
     * hash anti-join. Bound by {@link #bindLiveImages}.
     */
    static final String LIVE_IMAGES_SQL = "SELECT latest.primary_key, c.after, c.withheld FROM ("
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

    private static final String TABLE_SQL = "SELECT live.after::text FROM (" + LIVE_IMAGES_SQL + ") live"
            + " ORDER BY live.primary_key";

    /**
     * Each key changed after the earlier cut and at or before the later one (every key of the table
     * when a TRUNCATE came in between), or moved away by an UPDATE of the key in between, with its
     * image at each cut: the latest change at or before the cut unless that is a DELETE, is not newer
     * than the table's latest TRUNCATE at that cut, or was followed by a move of the row to another
     * key at or before that cut.
     */
    private static final String DIFF_SQL = "WITH p AS (SELECT ?::text AS s, ?::text AS t, ?::text COLLATE \"C\" AS f,"
            + " ?::text COLLATE \"C\" AS u),"
            + " cuts AS (SELECT p.*,"
            + " COALESCE((SELECT max(z.position) FROM annals.changes z WHERE z.\"schema\" = p.s AND z.\"table\" = p.t"
            + " AND z.primary_key IS NULL AND z.operation = 'TRUNCATE' AND z.position <= p.f), '') AS tf,"
            + " COALESCE((SELECT max(z.position) FROM annals.changes z WHERE z.\"schema\" = p.s AND z.\"table\" = p.t"
            + " AND z.primary_key IS NULL AND z.operation = 'TRUNCATE' AND z.position <= p.u), '') AS tu FROM p),"
            + " keys AS (SELECT k.primary_key FROM annals.changes k, cuts"
            + " WHERE k.\"schema\" = cuts.s AND k.\"table\" = cuts.t AND k.primary_key IS NOT NULL AND k.position <= cuts.u"
            + " AND (k.position > cuts.f OR cuts.tu > cuts.f)"
            + " UNION SELECT (SELECT jsonb_object_agg(x, m.before -> x) FROM jsonb_object_keys(m.primary_key) x)"
            + " FROM annals.changes m, cuts WHERE m.\"schema\" = cuts.s AND m.\"table\" = cuts.t AND m.operation = 'UPDATE'"
            + " AND m.position > cuts.f AND m.position <= cuts.u AND (m.before @> m.primary_key) IS NOT TRUE),"
            + " images AS (SELECT keys.primary_key,"
            + " (SELECT CASE WHEN a.operation = 'DELETE' OR a.position <= cuts.tf"
            + " OR " + movedAway("cuts.s", "cuts.t", "keys.primary_key", "a.position", "cuts.f") + " THEN NULL ELSE a.after END"
            + " FROM annals.changes a WHERE a.\"schema\" = cuts.s AND a.\"table\" = cuts.t"
            + " AND a.primary_key = keys.primary_key AND a.position <= cuts.f ORDER BY a.position DESC LIMIT 1) AS old_image,"
            + " (SELECT CASE WHEN b.operation = 'DELETE' OR b.position <= cuts.tu"
            + " OR " + movedAway("cuts.s", "cuts.t", "keys.primary_key", "b.position", "cuts.u") + " THEN NULL ELSE b.after END"
            + " FROM annals.changes b WHERE b.\"schema\" = cuts.s AND b.\"table\" = cuts.t"
            + " AND b.primary_key = keys.primary_key AND b.position <= cuts.u ORDER BY b.position DESC LIMIT 1) AS new_image"
            + " FROM keys, cuts)"
            + " SELECT primary_key::text, old_image::text, new_image::text FROM images"
            + " WHERE old_image IS DISTINCT FROM new_image ORDER BY images.primary_key";

    private void bindRow(PreparedStatement ps, TableName name, String key) throws SQLException {
        ps.setString(1, cut.toString());
        ps.setString(2, cut.toString());
        ps.setString(3, name.schema());
        ps.setString(4, name.table());
        ps.setString(5, key);
        ps.setString(6, cut.toString());
    }

    void bindLiveImages(PreparedStatement ps, TableName name) throws SQLException {
        bindLiveImages(ps, name, cut.toString());
    }

    /** Binds {@link #LIVE_IMAGES_SQL}: its parameters are {@link #liveImagesParameters} in order. */
    static void bindLiveImages(PreparedStatement ps, TableName name, String cut) throws SQLException {
        String[] values = liveImagesParameters(name, cut);
        for (int i = 0; i < values.length; i++) ps.setString(i + 1, values[i]);
    }

    /** The parameters of {@link #LIVE_IMAGES_SQL}: schema, table and cut, once per part of it. */
    static String[] liveImagesParameters(TableName name, String cut) {
        return new String[] {name.schema(), name.table(), cut, name.schema(), name.table(), cut,
                name.schema(), name.table(), cut};
    }

    /** The plan PostgreSQL chooses for {@link #row(String, Map)} ({@code EXPLAIN}), one line per element. */
    List<String> explainRow(String table, Map<String, ?> primaryKey) {
        TableName name = TableName.parse(table);
        try (Connection c = trail.connect(); PreparedStatement ps = c.prepareStatement("EXPLAIN " + ROW_SQL)) {
            check(c, name);
            bindRow(ps, name, keyJson(primaryKey));
            List<String> plan = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) plan.add(rs.getString(1));
            }
            return plan;
        } catch (SQLException e) {
            throw AuditTrail.failure("explain the query", e);
        }
    }

    // ---------------------------------------------------------------- checks

    private String keyJson(Map<String, ?> primaryKey) {
        if (primaryKey == null || primaryKey.isEmpty()) {
            throw new IllegalArgumentException("A primary key needs at least one column, e.g. Map.of(\"id\", 7)");
        }
        return trail.toJson(primaryKey, "the primary key");
    }

    /**
     * Fails unless {@code name} is a known table with a primary key whose change log begins at or
     * before the cut.
     */
    void check(Connection c, TableName name) throws SQLException {
        trail.checkTables(c, List.of(name));
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT EXISTS (SELECT 1 FROM annals.changes WHERE \"schema\" = ? AND \"table\" = ?"
                        + " AND primary_key IS NULL AND operation <> 'TRUNCATE')")) {
            ps.setString(1, name.schema());
            ps.setString(2, name.table());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (rs.getBoolean(1)) {
                    throw new HistoryException("Cannot time-travel " + name + ": it has no primary key (its changes"
                            + " are logged without one), so its rows cannot be told apart row by row. Give the table a"
                            + " primary key, or read its changes with trail.changes().table(\"" + name + "\").");
                }
            }
        }
        // The table's log begins at its first SNAPSHOT change if it was snapshotted (the baseline of
        // the rows that existed when capture began, or a retention baseline), else at its first
        // change. Both tests are cheap: a partial index holds only SNAPSHOT rows, and "any change at
        // or before the cut" stops at the first entry of the per-row index that qualifies.
        String snapshotBegin = null;
        try (PreparedStatement ps = c.prepareStatement("SELECT min(position) FROM annals.changes"
                + " WHERE \"schema\" = ? AND \"table\" = ? AND operation = 'SNAPSHOT'")) {
            ps.setString(1, name.schema());
            ps.setString(2, name.table());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                snapshotBegin = rs.getString(1);
            }
        }
        boolean known;
        if (cut == null) {
            known = false;
        } else if (snapshotBegin != null) {
            known = cut.compareTo(Position.parse(snapshotBegin)) >= 0;
        } else {
            try (PreparedStatement ps = c.prepareStatement("SELECT EXISTS (SELECT 1 FROM annals.changes"
                    + " WHERE \"schema\" = ? AND \"table\" = ? AND position <= ?)")) {
                ps.setString(1, name.schema());
                ps.setString(2, name.table());
                ps.setString(3, cut.toString());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    known = rs.getBoolean(1);
                }
            }
        }
        if (!known) throw beforeLogStart(c, name, snapshotBegin != null);
    }

    /** The error for a cut before the table's log begins; finds where it begins (the slow path, once). */
    private HistoryException beforeLogStart(Connection c, TableName name, boolean snapshot) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT position, committed_at FROM annals.changes"
                + " WHERE \"schema\" = ? AND \"table\" = ?" + (snapshot ? " AND operation = 'SNAPSHOT'" : "")
                + " ORDER BY position LIMIT 1")) {
            ps.setString(1, name.schema());
            ps.setString(2, name.table());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return new HistoryException("Cannot time-travel " + name + ": the change log holds no changes of it"
                            + " (is it captured?), so nothing is known of its rows as of " + describeCut() + ".");
                }
                return new HistoryException("Cannot read " + name + " as of " + describeCut() + ": the change log for "
                        + name + " begins at " + rs.getString(1) + " (committed "
                        + rs.getObject(2, OffsetDateTime.class).toInstant() + ")"
                        + (snapshot ? ", with the snapshot of its rows taken when capture began" : "")
                        + "; nothing is known before that.");
            }
        }
    }

    String describeCut() {
        if (instant == null) return String.valueOf(cut);
        return instant + (cut == null ? " (before the change log's first change)" : " (position " + cut + ")");
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AsOf a && trail == a.trail && Objects.equals(cut, a.cut)
                && Objects.equals(instant, a.instant) && fetchSize == a.fetchSize;
    }

    @Override
    public int hashCode() {
        return Objects.hash(cut, instant, fetchSize);
    }

    @Override
    public String toString() {
        return "AsOf[" + describeCut() + "]";
    }
}
