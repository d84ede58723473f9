package io.annals.history.timetravel;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.Position;
import io.annals.history.AuditTrail;
import io.annals.history.ChangeQuery;
import io.annals.history.HistoryException;
import io.annals.history.internal.ChangeLogReader;
import io.annals.history.internal.Cursor;
import io.annals.history.internal.LiveImages;
import io.annals.history.internal.Makers;
import io.annals.history.internal.TableName;

import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
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

    static {
        // AuditTrail makes cuts through Makers: a constructor it could call would have to be public API.
        Makers.register(new Makers.TimeTravel() {
            @Override
            public AsOf at(ChangeLogReader log, Instant instant) {
                return AsOf.at(log, instant);
            }

            @Override
            public AsOf at(ChangeLogReader log, Position position) {
                return new AsOf(log, position, null, ChangeQuery.DEFAULT_FETCH_SIZE);
            }

            @Override
            public Stream<RowDiff> diff(String table, AsOf from, AsOf to) {
                return from.diff(table, to);
            }
        });
    }

    private final ChangeLogReader log;
    /** The cut; {@code null} when an instant came before the first change of the log. */
    private final Position cut;
    /** The instant the cut was resolved from, or {@code null} for a position cut. */
    private final Instant instant;
    private final int fetchSize;

    private AsOf(ChangeLogReader log, Position cut, Instant instant, int fetchSize) {
        this.log = Objects.requireNonNull(log, "log");
        this.cut = cut;
        this.instant = instant;
        this.fetchSize = fetchSize;
    }

    /** The cut at {@code instant}, resolved now, once (see {@link AuditTrail#asOf(Instant)}). */
    private static AsOf at(ChangeLogReader log, Instant instant) {
        try (Connection c = log.connect(); PreparedStatement ps = c.prepareStatement(POSITION_AT_SQL)) {
            OffsetDateTime at = OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
            ps.setObject(1, at);
            ps.setObject(2, at);
            try (ResultSet rs = ps.executeQuery()) {
                String position = rs.next() ? rs.getString(1) : null;
                return new AsOf(log, position == null ? null : Position.parse(position), instant,
                        ChangeQuery.DEFAULT_FETCH_SIZE);
            }
        } catch (SQLException e) {
            throw ChangeLogReader.failure("find the change log's position at " + instant, e);
        }
    }

    /**
     * The last position committed at or before an instant, found by a binary search over commit
     * LSNs: changes are stored in commit order, so commit time grows with position, and each step is
     * one probe of the unique position index ("the first change at or after this LSN"). About 35
     * probes in one round trip, whatever the size of the log and however far back the instant;
     * scanning the position index backwards from the end until a change is old enough would cost
     * one row per change made since. No index on {@code committed_at} is needed (its B-tree would
     * slow every write of the log; the BRIN index cannot answer "the latest before"). PostgreSQL
     * takes a commit's timestamp just before writing its commit record, so two concurrent commits
     * can be microseconds out of order; an instant inside such a window may resolve to either side.
     */
    private static final String POSITION_AT_SQL = "WITH RECURSIVE"
            + " ends AS (SELECT (SELECT position FROM annals.changes ORDER BY position LIMIT 1) AS first,"
            + " (SELECT position FROM annals.changes ORDER BY position DESC LIMIT 1) AS last),"
            + " search(lo, hi) AS ("
            + " SELECT annals.position_lsn(ends.first), annals.position_lsn(ends.last) + 1"
            + " FROM ends WHERE (SELECT committed_at FROM annals.changes WHERE position = ends.first) <= ?"
            + " UNION ALL"
            + " SELECT CASE WHEN v.ok THEN p.lsn ELSE s.lo END, CASE WHEN v.ok THEN s.hi ELSE m.mid END"
            + " FROM search s CROSS JOIN LATERAL (SELECT s.lo + (s.hi - s.lo) / 2 AS mid) m"
            + " LEFT JOIN LATERAL (SELECT position, committed_at FROM annals.changes"
            + " WHERE position >= annals.position_text(m.mid, 0) ORDER BY position LIMIT 1) probe ON true"
            + " CROSS JOIN LATERAL (SELECT annals.position_lsn(probe.position) AS lsn) p"
            + " CROSS JOIN LATERAL (SELECT coalesce(p.lsn < s.hi AND probe.committed_at <= ?, false) AS ok) v"
            + " WHERE s.hi - s.lo > 1)"
            + " SELECT (SELECT position FROM annals.changes WHERE position < annals.position_text(lo + 1, 0)"
            + " ORDER BY position DESC LIMIT 1) FROM search ORDER BY hi - lo LIMIT 1";

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
        return new AsOf(log, cut, instant, rows);
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
        try (Connection c = log.connect()) {
            check(c, name);
            try (PreparedStatement ps = c.prepareStatement(ROW_SQL)) {
                bindRow(ps, name, key);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) return Optional.empty();
                    if ("DELETE".equals(rs.getString(1)) || rs.getBoolean(3)) return Optional.empty();
                    return Optional.ofNullable(log.json(rs.getString(2)));
                }
            }
        } catch (SQLException e) {
            throw ChangeLogReader.failure("read " + name + " as of " + describeCut(), e);
        }
    }

    /** The image of one row at the cut mapped to {@code type} with the trail's mapper (see {@link #row(String, Map)}). */
    public <T> Optional<T> row(String table, Map<String, ?> primaryKey, Class<T> type) {
        Objects.requireNonNull(type, "type");
        Optional<JsonNode> image = row(table, primaryKey);
        if (image.isEmpty() || image.get().isNull()) return Optional.empty();
        try {
            return Optional.ofNullable(log.map(image.get(), type));
        } catch (IOException | IllegalArgumentException e) {
            throw new HistoryException("Could not map the row " + primaryKey + " of " + TableName.parse(table) + " as of "
                    + describeCut() + " to " + type.getName() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Every row of {@code table} alive at the cut, ordered by primary key (jsonb order), from a
     * server-side cursor that fetches {@link #fetchSize(int)} rows at a time so that memory stays
     * flat for big tables. The stream holds a connection and a transaction until it is closed: use
     * try-with-resources. Read from the nearest keyframe at or before the cut plus the changes after
     * it when the table has keyframes ({@code io.annals.history.keyframes}), else from every change
     * of the table up to the cut.
     */
    public Stream<JsonNode> table(String table) {
        TableName name = TableName.parse(table);
        Connection c = log.connect();
        Cursor cursor = new Cursor(c);
        try {
            cursor.autoCommit = c.getAutoCommit();
            c.setAutoCommit(false); // a server-side cursor lives in a transaction
            check(c, name);
            prepareTableRead(c);
            LiveImages.Query live = liveImages(c, name, true);
            cursor.statement = c.prepareStatement(TABLE_SQL.formatted(live.sql()), ResultSet.TYPE_FORWARD_ONLY,
                    ResultSet.CONCUR_READ_ONLY);
            cursor.statement.setFetchSize(fetchSize);
            live.bind(cursor.statement, 1);
            cursor.rows = cursor.statement.executeQuery();
        } catch (SQLException e) {
            cursor.close();
            throw ChangeLogReader.failure("read " + name + " as of " + describeCut(), e);
        } catch (RuntimeException e) {
            cursor.close();
            throw e;
        }
        return cursor.stream(r -> log.json(r.getString(1)), "read " + name + " as of " + describeCut());
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
        Connection c = log.connect();
        Cursor cursor = new Cursor(c);
        try {
            cursor.autoCommit = c.getAutoCommit();
            c.setAutoCommit(false);
            check(c, name);
            later.check(c, name);
            cursor.statement = c.prepareStatement(DIFF_SQL, ResultSet.TYPE_FORWARD_ONLY, ResultSet.CONCUR_READ_ONLY);
            cursor.statement.setFetchSize(fetchSize);
            cursor.statement.setString(1, name.schema());
            cursor.statement.setString(2, name.table());
            cursor.statement.setString(3, cut.toString());
            cursor.statement.setString(4, later.cut.toString());
            cursor.rows = cursor.statement.executeQuery();
        } catch (SQLException e) {
            cursor.close();
            throw ChangeLogReader.failure(what, e);
        } catch (RuntimeException e) {
            cursor.close();
            throw e;
        }
        return cursor.stream(r -> RowDiff.of(log.json(r.getString(1)), log.json(r.getString(2)),
                log.json(r.getString(3))), what).filter(Objects::nonNull);
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
        return new Materialization(this, log, names, false);
    }

    /**
     * Every table of the change log as it stood at this cut (see {@link #materialize(String...)}).
     * Tables that cannot be read at the cut (no primary key, or a log that begins later) are left
     * out and listed in {@link Materialization.Result#skipped()}.
     */
    public Materialization materializeAll() {
        return new Materialization(this, log, List.of(), false);
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

    /**
     * The rows of {@code name} alive at this cut, from the nearest keyframe at or before it when
     * there is one (see {@link LiveImages#at}); {@code c} must be in the transaction that runs it.
     */
    LiveImages.Query liveImages(Connection c, TableName name, boolean inKeyOrder) throws SQLException {
        return LiveImages.at(c, name, cut.toString(), inKeyOrder);
    }

    /** What {@link #table} runs, around the live rows' query. */
    private static final String TABLE_SQL = "SELECT live.after::text FROM (%s) live ORDER BY live.primary_key";

    /** The settings of {@link #table}'s transaction; {@code c} must be in it. */
    private static void prepareTableRead(Connection c) throws SQLException {
        try (java.sql.Statement s = c.createStatement()) {
            // Each key's latest position is best found by one ordered pass over the per-row
            // index (a streaming group, already in key order, so no sort follows either); the
            // planner's estimates for jsonb keys tempt it into hashing millions of index
            // entries and sorting the result on disk instead. For this transaction only.
            s.execute("SET LOCAL enable_hashagg = off");
            // The changes after a keyframe are grouped by key, and hashed to be told from its rows:
            // in memory up to this much (the default 4 MB spills 100,000 rows to disk).
            s.execute("SET LOCAL work_mem = '" + LiveImages.WORK_MEM + "'");
        }
    }

    /** The plan PostgreSQL chooses for {@link #table(String)} ({@code EXPLAIN}), one line per element. */
    List<String> explainTable(String table) {
        TableName name = TableName.parse(table);
        try (Connection c = log.connect()) {
            c.setAutoCommit(false);
            try {
                check(c, name);
                prepareTableRead(c);
                LiveImages.Query live = liveImages(c, name, true);
                try (PreparedStatement ps = c.prepareStatement("EXPLAIN " + TABLE_SQL.formatted(live.sql()))) {
                    live.bind(ps, 1);
                    List<String> plan = new ArrayList<>();
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) plan.add(rs.getString(1));
                    }
                    return plan;
                }
            } finally {
                c.rollback();
            }
        } catch (SQLException e) {
            throw ChangeLogReader.failure("explain the query", e);
        }
    }

    /** The plan PostgreSQL chooses for {@link #row(String, Map)} ({@code EXPLAIN}), one line per element. */
    List<String> explainRow(String table, Map<String, ?> primaryKey) {
        TableName name = TableName.parse(table);
        try (Connection c = log.connect(); PreparedStatement ps = c.prepareStatement("EXPLAIN " + ROW_SQL)) {
            check(c, name);
            bindRow(ps, name, keyJson(primaryKey));
            List<String> plan = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) plan.add(rs.getString(1));
            }
            return plan;
        } catch (SQLException e) {
            throw ChangeLogReader.failure("explain the query", e);
        }
    }

    // ---------------------------------------------------------------- checks

    private String keyJson(Map<String, ?> primaryKey) {
        if (primaryKey == null || primaryKey.isEmpty()) {
            throw new IllegalArgumentException("A primary key needs at least one column, e.g. Map.of(\"id\", 7)");
        }
        return log.toJson(primaryKey, "the primary key");
    }

    /**
     * Fails unless {@code name} is a known table with a primary key whose change log begins at or
     * before the cut.
     */
    void check(Connection c, TableName name) throws SQLException {
        log.checkTables(c, List.of(name));
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
        return o instanceof AsOf a && log == a.log && Objects.equals(cut, a.cut)
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
