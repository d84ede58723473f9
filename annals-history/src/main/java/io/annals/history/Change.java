package io.annals.history;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.history.internal.ChangeLogReader;
import io.annals.history.internal.TableName;

import java.io.IOException;
import java.sql.Array;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * One row change from the change log, with its before and after images as JSON and typed views
 * of them through the trail's Jackson {@code ObjectMapper} (unknown properties are ignored).
 *
 * <p>An immutable value: the JSON accessors return copies. It is a class rather than a record
 * only so that it can carry the mapper of its {@link AuditTrail} for the typed accessors; equality
 * is over the stored values alone.
 *
 * <pre>{@code
 * record Order(long id, String status, BigDecimal amount) {}
 *
 * for (Change c : trail.history("orders", Map.of("id", 7)).list()) {
 *     Optional<Order> order = c.after(Order.class);
 *     c.diff().forEach(d -> System.out.println(d.column() + ": " + d.oldValue() + " -> " + d.newValue()));
 * }
 * }</pre>
 */
public final class Change {

    private final long id;
    private final Position position;
    private final long transactionId;
    private final Instant committedAt;
    private final String database;
    private final String schema;
    private final String table;
    private final Operation operation;
    private final JsonNode primaryKey;
    private final JsonNode before;
    private final JsonNode after;
    private final List<String> changedColumns;
    private final JsonNode context;
    private final List<String> withheldColumns;
    private final ObjectReader reader;

    private Change(long id, Position position, long transactionId, Instant committedAt, String database, String schema,
           String table, Operation operation, JsonNode primaryKey, JsonNode before, JsonNode after,
           List<String> changedColumns, JsonNode context, List<String> withheldColumns, ObjectReader reader) {
        this.id = id;
        this.position = Objects.requireNonNull(position, "position");
        this.transactionId = transactionId;
        this.committedAt = Objects.requireNonNull(committedAt, "committedAt");
        this.database = database;
        this.schema = schema;
        this.table = table;
        this.operation = Objects.requireNonNull(operation, "operation");
        this.primaryKey = primaryKey;
        this.before = before;
        this.after = after;
        this.changedColumns = changedColumns == null ? null : List.copyOf(changedColumns);
        this.context = context;
        this.withheldColumns = withheldColumns == null ? List.of() : List.copyOf(withheldColumns);
        this.reader = reader;
    }

    /** The change in the current row of {@code rs}, which holds {@link ChangeLogReader#COLUMNS}. */
    static Change read(ResultSet rs, ChangeLogReader log) throws SQLException {
        Array changed = rs.getArray(12);
        List<String> changedColumns = changed == null ? null : Arrays.asList((String[]) changed.getArray());
        Array withheld = rs.getArray(14);
        return new Change(rs.getLong(1), Position.parse(rs.getString(2)), rs.getLong(3),
                rs.getObject(4, OffsetDateTime.class).toInstant(), rs.getString(5), rs.getString(6), rs.getString(7),
                Operation.valueOf(rs.getString(8)), log.json(rs.getString(9)), log.json(rs.getString(10)),
                log.json(rs.getString(11)), changedColumns, log.json(rs.getString(13)),
                withheld == null ? null : Arrays.asList((String[]) withheld.getArray()), log.reader());
    }

    /** The change's id in the change log (insertion order; use {@link #position()} for the real order). */
    public long id() {
        return id;
    }

    /** Where the change sits in the change log's total order. */
    public Position position() {
        return position;
    }

    /** The id of the source transaction that made the change. */
    public long transactionId() {
        return transactionId;
    }

    /** When that transaction committed. */
    public Instant committedAt() {
        return committedAt;
    }

    /** The source database's name. */
    public String database() {
        return database;
    }

    /** The changed table's schema. */
    public String schema() {
        return schema;
    }

    /** The changed table's name. */
    public String table() {
        return table;
    }

    /** {@code schema.table}. */
    public String qualifiedTable() {
        return new TableName(schema, table).toString();
    }

    /** What the change did. */
    public Operation operation() {
        return operation;
    }

    /** The row's primary key as a JSON object ({@code {"id": 7}}), or {@code null} (TRUNCATE). */
    public JsonNode primaryKey() {
        return copy(primaryKey);
    }

    /**
     * The row before the change, or {@code null} (INSERT, SNAPSHOT, TRUNCATE). Where the log stored
     * only the key (REPLICA IDENTITY DEFAULT), the trail completes it from the row's previous image
     * in the log; it stays key-only when the log holds no earlier image of the row.
     */
    public JsonNode before() {
        return copy(before);
    }

    /** The row after the change, exactly as {@code to_jsonb(row)} gives it, or {@code null} (DELETE, TRUNCATE). */
    public JsonNode after() {
        return copy(after);
    }

    /** The application context the change was made in; {@code {}} when there was none. */
    public JsonNode context() {
        return copy(context);
    }

    /** The columns the change set (all stored columns for an INSERT or DELETE); empty when unknown. */
    public List<String> changedColumns() {
        return changedColumns == null ? List.of() : changedColumns;
    }

    /**
     * The columns whose values this change's images do not hold because capture withheld them:
     * masked ones ({@code maskColumns}; the images hold the placeholder {@code "****"}, not the
     * row's value) and omitted ones ({@code omitColumns}; absent). Empty when none; changes stored
     * before Annals recorded this also show none.
     */
    public List<String> withheldColumns() {
        return withheldColumns;
    }

    /** The primary key mapped to {@code type}; empty when the change has none. */
    public <T> Optional<T> primaryKey(Class<T> type) {
        return map(primaryKey, type, "primary key");
    }

    /** The before image mapped to {@code type}; empty when the change has none. */
    public <T> Optional<T> before(Class<T> type) {
        return map(before, type, "before image");
    }

    /** The after image mapped to {@code type}; empty when the change has none. */
    public <T> Optional<T> after(Class<T> type) {
        return map(after, type, "after image");
    }

    /** The context mapped to {@code type}. */
    public <T> Optional<T> context(Class<T> type) {
        return map(context, type, "context");
    }

    /**
     * What the change did, column by column: each changed column with its old and new value.
     *
     * <p>The columns are those of {@link #changedColumns()}, which the capture worker computes
     * exactly even when the before image holds only the key; when that list is absent (a SNAPSHOT),
     * every column of the images. The old value is the before image's (completed from the row's
     * previous image where only the key was stored); when the log holds no earlier image of the
     * row, only key columns show an old value and the others show {@code null} (see
     * {@link ColumnChange#oldValueKnown()}). A TRUNCATE has no diff.
     */
    public List<ColumnChange> diff() {
        if (operation == Operation.TRUNCATE) return List.of();
        Set<String> columns = new LinkedHashSet<>();
        if (changedColumns != null) {
            columns.addAll(changedColumns);
        } else {
            addFieldNames(columns, before);
            addFieldNames(columns, after);
        }
        List<ColumnChange> out = new ArrayList<>(columns.size());
        for (String column : columns) {
            out.add(new ColumnChange(column, before == null ? null : before.get(column),
                    after == null ? null : after.get(column)));
        }
        return List.copyOf(out);
    }

    private static void addFieldNames(Set<String> into, JsonNode image) {
        if (image == null) return;
        for (Iterator<String> it = image.fieldNames(); it.hasNext(); ) into.add(it.next());
    }

    private <T> Optional<T> map(JsonNode node, Class<T> type, String what) {
        Objects.requireNonNull(type, "type");
        if (node == null || node.isNull()) return Optional.empty();
        try {
            return Optional.ofNullable(reader.forType(type).readValue(node));
        } catch (IOException | IllegalArgumentException e) {
            throw new HistoryException("Could not map the " + what + " of change " + position + " (" + qualifiedTable()
                    + ") to " + type.getName() + ": " + e.getMessage(), e);
        }
    }

    private static JsonNode copy(JsonNode node) {
        return node == null ? null : node.deepCopy();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Change c && id == c.id && transactionId == c.transactionId
                && position.equals(c.position) && committedAt.equals(c.committedAt)
                && Objects.equals(database, c.database) && Objects.equals(schema, c.schema)
                && Objects.equals(table, c.table) && operation == c.operation
                && Objects.equals(primaryKey, c.primaryKey) && Objects.equals(before, c.before)
                && Objects.equals(after, c.after) && Objects.equals(changedColumns, c.changedColumns)
                && Objects.equals(context, c.context) && withheldColumns.equals(c.withheldColumns);
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, position, operation, schema, table, primaryKey);
    }

    @Override
    public String toString() {
        return position + " " + operation + " " + qualifiedTable() + " pk=" + primaryKey + " xid=" + transactionId
                + " at " + committedAt + " before=" + before + " after=" + after + " changed=" + changedColumns()
                + " context=" + context;
    }
}
