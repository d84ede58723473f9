package io.annals.history;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.NullNode;
import io.annals.changelog.Json;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import org.postgresql.ds.PGSimpleDataSource;

import javax.sql.DataSource;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The audit trail of a database: typed, fluent queries over its change log ({@code annals.changes}).
 *
 * <p>Thread-safe and cheap to keep; every query borrows a connection from the data source only
 * while it runs (a {@link ChangeQuery#stream() stream} until it is closed).
 *
 * <pre>{@code
 * AuditTrail trail = AuditTrail.of("jdbc:postgresql://db/app?user=annals");
 * List<Change> history = trail.history("orders", Map.of("id", 7)).list();
 * List<Change> paid = trail.changes()
 *         .table("public.orders")
 *         .where(Image.AFTER, "status", "=", "paid")
 *         .between(Instants.parse("2026-11-01"), Instants.parse("2026-12-01"))
 *         .descending()
 *         .limit(100)
 *         .list();
 * }</pre>
 */
public final class AuditTrail {

    private final DataSource dataSource;
    private final ObjectMapper mapper;
    private final ObjectReader reader;
    /** Reads the stored JSON exactly: decimals stay decimals, with their scale (10.50, not 10.5). */
    private final ObjectReader treeReader;
    /** Tables already seen to exist; shared by the trails derived from one another. */
    private final Set<TableName> knownTables;

    private AuditTrail(DataSource dataSource, ObjectMapper mapper, Set<TableName> knownTables) {
        this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
        this.mapper = Objects.requireNonNull(mapper, "mapper");
        this.reader = mapper.reader().without(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
        this.treeReader = Json.exact(mapper.reader());
        this.knownTables = knownTables;
    }

    /** The audit trail of the change log reached through {@code dataSource}. */
    public static AuditTrail of(DataSource dataSource) {
        return new AuditTrail(dataSource, new ObjectMapper(), ConcurrentHashMap.newKeySet());
    }

    /** The audit trail of the change log in the database at {@code jdbcUrl} ({@code jdbc:postgresql:...}). */
    public static AuditTrail of(String jdbcUrl) {
        if (jdbcUrl == null || !jdbcUrl.startsWith("jdbc:postgresql:")) {
            throw new IllegalArgumentException("Not a PostgreSQL JDBC URL: '" + jdbcUrl
                    + "'; use e.g. jdbc:postgresql://localhost:5432/app?user=annals");
        }
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(jdbcUrl);
        ds.setApplicationName("annals-history");
        return of(ds);
    }

    /**
     * This trail, mapping images to Java types with {@code objectMapper} (for example one with
     * {@code JavaTimeModule} registered). Unknown properties are ignored whatever its settings;
     * the mapper itself is not modified.
     */
    public AuditTrail withObjectMapper(ObjectMapper objectMapper) {
        return new AuditTrail(dataSource, objectMapper, knownTables);
    }

    /** A query over every change in the log, oldest first; narrow it with the {@link ChangeQuery} methods. */
    public ChangeQuery changes() {
        return new ChangeQuery(this, ChangeQuery.Spec.EVERYTHING);
    }

    /**
     * The history of one row, oldest change first: {@code changes().table(table).primaryKey(primaryKey)}.
     * Served by the change log's per-row index.
     */
    public ChangeQuery history(String table, Map<String, ?> primaryKey) {
        return changes().table(table).primaryKey(primaryKey);
    }

    /**
     * Time travel: the change log as it stood at {@code instant}, that is after every change
     * committed at or before it. The instant is resolved now, once, to the last position committed
     * at or before it (changes are stored in commit order, so position order is also time order and
     * the cut is the same whichever way it is described).
     *
     * <pre>{@code
     * Optional<JsonNode> order = trail.asOf(Instants.parse("2026-11-01 12:00")).row("orders", Map.of("id", 7));
     * }</pre>
     *
     * @see AsOf
     */
    public AsOf asOf(Instant instant) {
        Objects.requireNonNull(instant, "instant");
        try (Connection c = connect(); PreparedStatement ps = c.prepareStatement(POSITION_AT_SQL)) {
            OffsetDateTime at = OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
            ps.setObject(1, at);
            ps.setObject(2, at);
            try (ResultSet rs = ps.executeQuery()) {
                String position = rs.next() ? rs.getString(1) : null;
                return new AsOf(this, position == null ? null : Position.parse(position), instant,
                        ChangeQuery.DEFAULT_FETCH_SIZE);
            }
        } catch (SQLException e) {
            throw failure("find the change log's position at " + instant, e);
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
     * Time travel: the change log as it stood right after the change at {@code position}
     * (every change at or before it).
     *
     * @see AsOf
     */
    public AsOf asOf(Position position) {
        Objects.requireNonNull(position, "position");
        return new AsOf(this, position, null, ChangeQuery.DEFAULT_FETCH_SIZE);
    }

    /**
     * How {@code table} changed between two instants: every row added, removed or changed, with
     * column diffs, ordered by primary key. Each instant is resolved as by {@link #asOf(Instant)}.
     * The stream holds a connection until it is closed: use try-with-resources.
     *
     * <pre>{@code
     * try (Stream<RowDiff> diff = trail.diff("orders", Instants.parse("2026-11-01"), Instants.parse("2026-11-02"))) {
     *     diff.filter(d -> d.kind() == RowDiff.Kind.REMOVED).forEach(d -> System.out.println(d.before()));
     * }
     * }</pre>
     */
    public java.util.stream.Stream<RowDiff> diff(String table, Instant from, Instant to) {
        Objects.requireNonNull(from, "from");
        Objects.requireNonNull(to, "to");
        if (to.isBefore(from)) {
            throw new IllegalArgumentException("A diff goes from an earlier instant to a later one, but " + from
                    + " is after " + to + "; swap them");
        }
        return asOf(from).diff(table, asOf(to));
    }

    /** How {@code table} changed between two positions of the change log (see {@link #diff(String, Instant, Instant)}). */
    public java.util.stream.Stream<RowDiff> diff(String table, Position from, Position to) {
        return asOf(from).diff(table, asOf(to));
    }

    /**
     * Undoing one transaction: every change it made, reverted newest first (see {@link Revert}).
     *
     * <pre>{@code
     * trail.revertTransaction(812).plan().apply();
     * }</pre>
     */
    public Revert revertTransaction(long transactionId) {
        return revert(changes().transaction(transactionId));
    }

    /**
     * Undoing every change {@code changes} matches, for example one request's or one user's
     * changes in a time window:
     *
     * <pre>{@code
     * trail.revert(trail.changes()
     *         .contextContains(Map.of("user_id", 42))
     *         .between(Instants.parse("2026-11-24 09:00"), Instants.parse("2026-11-24 10:00")))
     *      .plan()
     *      .apply();
     * }</pre>
     *
     * The query's order is ignored (a revert goes newest first); a limit is refused, since undoing
     * an arbitrary part of a selection is rarely what is meant.
     */
    public Revert revert(ChangeQuery changes) {
        Objects.requireNonNull(changes, "changes");
        if (changes.spec.limit() != null) {
            throw new IllegalArgumentException("A revert undoes every matching change; remove limit(" + changes.spec.limit()
                    + ") from the query, or narrow it with a time or position range instead");
        }
        return new Revert(this, changes.spec, Revert.describe(changes.spec), ConflictPolicy.FAIL, null,
                Revert.DEFAULT_MAX_CHANGES);
    }

    /**
     * Rolling {@code table} back to {@code instant}: every change of it committed after that
     * instant, reverted, so that it holds what it held then (conflicts aside: there are none unless
     * other changes are excluded from the selection).
     *
     * @throws HistoryException if the instant is before the change log begins (its state then is unknown)
     */
    public Revert revertTable(String table, Instant instant) {
        AsOf cut = asOf(instant);
        if (cut.position().isEmpty()) {
            throw new HistoryException("Cannot roll " + TableName.parse(table) + " back to " + instant + ": the change log"
                    + " begins after that instant, so what the table held then is unknown.");
        }
        return revertTable(table, cut.position().get());
    }

    /** Rolling {@code table} back to {@code position}: every change of it after that position, reverted. */
    public Revert revertTable(String table, Position position) {
        return revert(changes().table(table).after(position));
    }

    /** The data source of the change log. */
    DataSource dataSource() {
        return dataSource;
    }

    /**
     * Retention of this change log: drop partitions past an age after writing a baseline, so that
     * time travel from the cut-off on stays exact.
     *
     * <pre>{@code
     * trail.retention().keep(Duration.ofDays(90)).apply();
     * }</pre>
     *
     * @see Retention
     */
    public Retention retention() {
        return new Retention(this, null, null, false);
    }

    // ---- used by ChangeQuery and AsOf ----

    /** {@code image} mapped to {@code type} through the trail's mapper (unknown properties ignored). */
    <T> T map(JsonNode image, Class<T> type) throws java.io.IOException {
        return reader.forType(type).readValue(image);
    }

    Connection connect() {
        try {
            return dataSource.getConnection();
        } catch (SQLException e) {
            throw new HistoryException("Could not connect to the change log's database: " + e.getMessage(), e);
        }
    }

    /** {@code value} as JSON text, through the trail's mapper. */
    String toJson(Object value, String what) {
        try {
            return mapper.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("Cannot write " + what + " as JSON: " + e.getOriginalMessage(), e);
        }
    }

    JsonNode toTree(Object value, String what) {
        try {
            JsonNode tree = mapper.valueToTree(value);
            return tree == null ? NullNode.getInstance() : tree;
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Cannot write " + what + " as JSON: " + e.getMessage(), e);
        }
    }

    /** Fails with a clear error unless each table is in the change log or in the database's catalog. */
    void checkTables(Connection c, List<TableName> tables) throws SQLException {
        for (TableName t : tables) {
            if (knownTables.contains(t)) continue;
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT EXISTS (SELECT 1 FROM annals.changes WHERE \"schema\" = ? AND \"table\" = ?)"
                            + " OR EXISTS (SELECT 1 FROM pg_catalog.pg_class r"
                            + " JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace"
                            + " WHERE n.nspname = ? AND r.relname = ? AND r.relkind IN ('r', 'p', 'v', 'm', 'f'))")) {
                ps.setString(1, t.schema());
                ps.setString(2, t.table());
                ps.setString(3, t.schema());
                ps.setString(4, t.table());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (rs.getBoolean(1)) {
                        knownTables.add(t);
                        continue;
                    }
                }
            }
            throw new HistoryException("Unknown table '" + t + "': it has no changes in the change log and is not in"
                    + " the database's catalog" + suggestions(c, t) + ". Name it as schema.table (a bare name means"
                    + " schema public); names are case-sensitive.");
        }
    }

    private static String suggestions(Connection c, TableName t) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT n.nspname, r.relname FROM pg_catalog.pg_class r"
                        + " JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace"
                        + " WHERE lower(r.relname) = lower(?) AND r.relkind IN ('r', 'p', 'v', 'm', 'f')"
                        + " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                        + " ORDER BY 1, 2 LIMIT 5")) {
            ps.setString(1, t.table());
            List<String> names = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) names.add(new TableName(rs.getString(1), rs.getString(2)).toString());
            }
            return names.isEmpty() ? "" : " (did you mean " + String.join(" or ", names) + "?)";
        }
    }

    /** The columns {@link #readChange} expects, in order. */
    static final String COLUMNS = "id, position, transaction_id, committed_at, database, \"schema\", \"table\", operation,"
            + " primary_key::text, before::text, after::text, changed_columns, context::text, withheld";

    /**
     * The columns {@link #readChange} expects, of the row aliased {@code alias}, with the before
     * image completed where only its key was stored (see {@link ChangeQuery#beforeImage(String)}).
     */
    static String columns(String alias) {
        String a = alias + ".";
        return a + "id, " + a + "position, " + a + "transaction_id, " + a + "committed_at, " + a + "database, "
                + a + "\"schema\", " + a + "\"table\", " + a + "operation, " + a + "primary_key::text, "
                + ChangeQuery.beforeImage(alias) + "::text, " + a + "after::text, " + a + "changed_columns, "
                + a + "context::text, " + a + "withheld";
    }

    Change readChange(ResultSet rs) throws SQLException {
        Array changed = rs.getArray(12);
        List<String> changedColumns = changed == null ? null : Arrays.asList((String[]) changed.getArray());
        Array withheld = rs.getArray(14);
        return new Change(rs.getLong(1), Position.parse(rs.getString(2)), rs.getLong(3),
                rs.getObject(4, OffsetDateTime.class).toInstant(), rs.getString(5), rs.getString(6), rs.getString(7),
                Operation.valueOf(rs.getString(8)), json(rs.getString(9)), json(rs.getString(10)),
                json(rs.getString(11)), changedColumns, json(rs.getString(13)),
                withheld == null ? null : Arrays.asList((String[]) withheld.getArray()), reader);
    }

    JsonNode json(String text) {
        if (text == null) return null;
        try {
            return treeReader.readTree(text);
        } catch (JsonProcessingException e) {
            throw new HistoryException("The change log holds invalid JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** A failure of {@code what}, with a clear message when the change log is missing altogether. */
    static HistoryException failure(String what, SQLException e) {
        if ("42P01".equals(e.getSQLState()) || "3F000".equals(e.getSQLState())) {
            return new HistoryException("There is no change log (table annals.changes) in this database: start"
                    + " capture with 'annals run' or create it with ChangeLog.migrate(). (" + e.getMessage() + ")", e);
        }
        return new HistoryException("Could not " + what + ": " + e.getMessage(), e);
    }
}
