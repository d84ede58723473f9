package io.annals.history.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.NullNode;
import io.annals.changelog.Json;
import io.annals.history.Change;
import io.annals.history.HistoryException;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What every part of the audit trail reads the change log with: its data source, the JSON mappers,
 * the table check, and reading a {@link Change} from a row. One per {@code AuditTrail}; the query,
 * time travel, revert and retention packages each get it from there.
 *
 * <pre>{@code
 * try (Connection c = log.connect()) {
 *     log.checkTables(c, List.of(TableName.parse("orders")));
 *     ...
 * } catch (SQLException e) {
 *     throw ChangeLogReader.failure("read orders", e);
 * }
 * }</pre>
 */
public final class ChangeLogReader {

    /** Reads a {@link Change} from a row of {@link #COLUMNS}: given by the audit trail, whose package owns Change. */
    @FunctionalInterface
    public interface ChangeMapper {
        Change read(ResultSet rs, ChangeLogReader log) throws SQLException;
    }

    private final DataSource dataSource;
    private final ObjectMapper mapper;
    private final ObjectReader reader;
    /** Reads the stored JSON exactly: decimals stay decimals, with their scale (10.50, not 10.5). */
    private final ObjectReader treeReader;
    /** Tables already seen to exist; shared by the trails derived from one another. */
    private final Set<TableName> knownTables;
    private final ChangeMapper changes;

    public ChangeLogReader(DataSource dataSource, ObjectMapper mapper, Set<TableName> knownTables, ChangeMapper changes) {
        this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
        this.mapper = Objects.requireNonNull(mapper, "mapper");
        this.reader = mapper.reader().without(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
        this.treeReader = Json.exact(mapper.reader());
        this.knownTables = knownTables;
        this.changes = changes;
    }

    /** This reader, mapping images with {@code objectMapper}; the tables known to exist are shared. */
    public ChangeLogReader withObjectMapper(ObjectMapper objectMapper) {
        return new ChangeLogReader(dataSource, objectMapper, knownTables, changes);
    }

    /** The data source of the change log. */
    public DataSource dataSource() {
        return dataSource;
    }

    /** Maps images to Java types: the trail's mapper, ignoring unknown properties. */
    public ObjectReader reader() {
        return reader;
    }

    /** {@code image} mapped to {@code type} through the trail's mapper (unknown properties ignored). */
    public <T> T map(JsonNode image, Class<T> type) throws java.io.IOException {
        return reader.forType(type).readValue(image);
    }

    public Connection connect() {
        try {
            return dataSource.getConnection();
        } catch (SQLException e) {
            throw new HistoryException("Could not connect to the change log's database: " + e.getMessage(), e);
        }
    }

    /** {@code value} as JSON text, through the trail's mapper. */
    public String toJson(Object value, String what) {
        try {
            return mapper.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("Cannot write " + what + " as JSON: " + e.getOriginalMessage(), e);
        }
    }

    public JsonNode toTree(Object value, String what) {
        try {
            JsonNode tree = mapper.valueToTree(value);
            return tree == null ? NullNode.getInstance() : tree;
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Cannot write " + what + " as JSON: " + e.getMessage(), e);
        }
    }

    /** Fails with a clear error unless each table is in the change log or in the database's catalog. */
    public void checkTables(Connection c, List<TableName> tables) throws SQLException {
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
    public static final String COLUMNS = "id, position, transaction_id, committed_at, database, \"schema\", \"table\", operation,"
            + " primary_key::text, before::text, after::text, changed_columns, context::text, withheld";

    /**
     * The columns {@link #readChange} expects, of the row aliased {@code alias}, with the before
     * image completed where only its key was stored (see {@link QuerySpec#beforeImage(String)}).
     */
    public static String columns(String alias) {
        String a = alias + ".";
        return a + "id, " + a + "position, " + a + "transaction_id, " + a + "committed_at, " + a + "database, "
                + a + "\"schema\", " + a + "\"table\", " + a + "operation, " + a + "primary_key::text, "
                + QuerySpec.beforeImage(alias) + "::text, " + a + "after::text, " + a + "changed_columns, "
                + a + "context::text, " + a + "withheld";
    }

    /** The change in the current row of {@code rs}, which holds {@link #COLUMNS}. */
    public Change readChange(ResultSet rs) throws SQLException {
        return changes.read(rs, this);
    }

    public JsonNode json(String text) {
        if (text == null) return null;
        try {
            return treeReader.readTree(text);
        } catch (JsonProcessingException e) {
            throw new HistoryException("The change log holds invalid JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** A failure of {@code what}, with a clear message when the change log is missing altogether. */
    public static HistoryException failure(String what, SQLException e) {
        if ("42P01".equals(e.getSQLState()) || "3F000".equals(e.getSQLState())) {
            return new HistoryException("There is no change log (table annals.changes) in this database: start"
                    + " capture with 'annals run' or create it with ChangeLog.migrate(). (" + e.getMessage() + ")", e);
        }
        return new HistoryException("Could not " + what + ": " + e.getMessage(), e);
    }
}
