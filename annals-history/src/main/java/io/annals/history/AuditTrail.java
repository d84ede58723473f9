package io.annals.history;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.node.NullNode;
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
        this.treeReader = mapper.reader()
                .with(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                .without(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES);
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
        try (Connection c = connect(); PreparedStatement ps = c.prepareStatement(
                "SELECT position FROM annals.changes WHERE committed_at <= ? ORDER BY position DESC LIMIT 1")) {
            ps.setObject(1, OffsetDateTime.ofInstant(instant, ZoneOffset.UTC));
            try (ResultSet rs = ps.executeQuery()) {
                return new AsOf(this, rs.next() ? Position.parse(rs.getString(1)) : null, instant,
                        ChangeQuery.DEFAULT_FETCH_SIZE);
            }
        } catch (SQLException e) {
            throw failure("find the change log's position at " + instant, e);
        }
    }

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
        return new Retention(this, null, null);
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
            + " primary_key::text, before::text, after::text, changed_columns, context::text";

    Change readChange(ResultSet rs) throws SQLException {
        Array changed = rs.getArray(12);
        List<String> changedColumns = changed == null ? null : Arrays.asList((String[]) changed.getArray());
        return new Change(rs.getLong(1), Position.parse(rs.getString(2)), rs.getLong(3),
                rs.getObject(4, OffsetDateTime.class).toInstant(), rs.getString(5), rs.getString(6), rs.getString(7),
                Operation.valueOf(rs.getString(8)), json(rs.getString(9)), json(rs.getString(10)),
                json(rs.getString(11)), changedColumns, json(rs.getString(13)), reader);
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
