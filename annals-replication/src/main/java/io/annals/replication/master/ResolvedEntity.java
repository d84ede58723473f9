package io.annals.replication.master;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.annals.changelog.Json;
import io.annals.changelog.Sql;
import io.annals.replication.CqrsEntity;
import io.annals.replication.CqrsMaster;
import io.annals.replication.ReplicationException;

import java.io.IOException;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An entity declaration checked against the source database: its columns and their types, its
 * key columns, each column's field name. It turns a row image, or a serializer query's row, into
 * the fields of {@code instance_data}.
 *
 * <pre>{@code
 * ResolvedEntity e = ResolvedEntity.resolve(entity, sourceConnection, CqrsMaster.Decimals.FLOAT);
 * ObjectNode fields = e.fieldsOf(afterImage);          // {"id":1,"name":"Ada","author":3}
 * JsonNode pk = e.instancePk(afterImage);               // 1
 * }</pre>
 */
public final class ResolvedEntity {

    private final CqrsEntity entity;
    private final Map<String, String> types;
    /** column → field, in the order fields travel. */
    private final Map<String, String> fields;
    private final List<String> keyColumns;
    private final CqrsMaster.Decimals decimals;

    private ResolvedEntity(CqrsEntity entity, Map<String, String> types, Map<String, String> fields, List<String> keyColumns,
                           CqrsMaster.Decimals decimals) {
        this.entity = entity;
        this.types = types;
        this.fields = fields;
        this.keyColumns = keyColumns;
        this.decimals = decimals;
    }

    /** Checks {@code entity} against the source: its table, its columns and its primary key must exist. */
    public static ResolvedEntity resolve(CqrsEntity entity, Connection source, CqrsMaster.Decimals decimals) throws SQLException {
        Map<String, String> types = SourceColumns.of(source, entity.schema(), entity.table());
        Map<String, String> fields = new LinkedHashMap<>();
        if (entity.columns().isEmpty()) {
            for (String c : types.keySet()) fields.put(c, c);
        } else {
            for (Map.Entry<String, String> e : entity.columns().entrySet()) {
                if (!types.containsKey(e.getKey())) {
                    throw new ReplicationException("Entity " + entity.cqrsId() + ": table " + entity.qualifiedTable() + " has no column "
                            + e.getKey() + "; its columns are " + types.keySet());
                }
                fields.put(e.getKey(), e.getValue());
            }
        }
        List<String> keys = new ArrayList<>();
        try (PreparedStatement ps = source.prepareStatement("""
                SELECT a.attname FROM pg_catalog.pg_index i
                JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                WHERE i.indrelid = to_regclass(?) AND i.indisprimary
                ORDER BY array_position(i.indkey::int2[], a.attnum)""")) {
            ps.setString(1, Sql.qualified(entity.schema(), entity.table()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) keys.add(rs.getString(1));
            }
        }
        if (keys.isEmpty()) {
            throw new ReplicationException("Entity " + entity.cqrsId() + ": table " + entity.qualifiedTable() + " has no primary key;"
                    + " a replica finds its rows by instance_pk, so give the table one");
        }
        for (String k : keys) fields.putIfAbsent(k, k); // the key always travels (a DELETE sends it by field name)
        return new ResolvedEntity(entity, types, fields, List.copyOf(keys), decimals);
    }

    public CqrsEntity entity() {
        return entity;
    }

    public String cqrsId() {
        return entity.cqrsId();
    }

    /** The key columns, in key order. */
    public List<String> keyColumns() {
        return keyColumns;
    }

    /** The field names of the key columns, in key order. */
    public List<String> keyFields() {
        return keyColumns.stream().map(fields::get).toList();
    }

    /**
     * {@code instance_pk} of a row image (or of the change log's key object): the key's value, or
     * an object of field → value for a key of several columns.
     */
    public JsonNode instancePk(JsonNode image) {
        if (keyColumns.size() == 1) {
            String k = keyColumns.get(0);
            return WireValues.toWire(image.get(k), types.get(k), CqrsMaster.Decimals.EXACT);
        }
        ObjectNode pk = JsonNodeFactory.instance.objectNode();
        for (String k : keyColumns) pk.set(fields.get(k), WireValues.toWire(image.get(k), types.get(k), CqrsMaster.Decimals.EXACT));
        return pk;
    }

    /** The fields of {@code instance_data} for a row image ({@code to_jsonb} of the row), in order. */
    public ObjectNode fieldsOf(JsonNode image) {
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        for (Map.Entry<String, String> f : fields.entrySet()) {
            out.set(f.getValue(), WireValues.toWire(image.get(f.getKey()), types.get(f.getKey()), decimals));
        }
        return out;
    }

    /**
     * {@code previous_data}: on a create ({@code before} null), every tracked field as null; on an
     * update, the tracked fields that changed, with their old values; null when no field is tracked.
     */
    public ObjectNode previousData(ObjectNode after, JsonNode before) {
        if (entity.previousData().isEmpty()) return null;
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        for (String field : entity.previousData()) {
            if (before == null) {
                out.putNull(field);
            } else if (!java.util.Objects.equals(before.get(field), after.get(field))) {
                out.set(field, before.get(field));
            }
        }
        return out;
    }

    /** Whether a row image holds every column that travels (an UPDATE's old image may hold the key only). */
    public boolean complete(JsonNode image) {
        for (String column : fields.keySet()) if (!image.has(column)) return false;
        return true;
    }

    /** The tracked ({@code previous_data}) fields of {@code fields}, to compare the next update with; null when none. */
    public String tracked(ObjectNode fields) {
        if (entity.previousData().isEmpty()) return null;
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        for (String field : entity.previousData()) out.set(field, fields.get(field));
        return out.toString();
    }

    /**
     * Runs the serializer query for one key on the source; the row's fields (column labels) in
     * order, or null when the row is gone.
     */
    public ObjectNode query(Connection source, JsonNode keyImage) throws SQLException {
        String sql = "SELECT to_jsonb(annals_q)::text, annals_q.* FROM (" + entity.query() + ") annals_q";
        try (PreparedStatement ps = source.prepareStatement(sql)) {
            bindKey(ps, keyImage);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) return null;
                JsonNode row = readJson(rs.getString(1));
                ResultSetMetaData md = rs.getMetaData();
                ObjectNode out = JsonNodeFactory.instance.objectNode();
                for (int i = 2; i <= md.getColumnCount(); i++) {
                    String label = md.getColumnLabel(i);
                    out.set(label, WireValues.toWire(row.get(label), md.getColumnTypeName(i), decimals));
                }
                if (rs.next()) {
                    throw new ReplicationException("Entity " + cqrsId() + ": its query returned more than one row for key " + keyImage
                            + "; it must return the one row to send for the key bound to its ? parameters");
                }
                return out;
            }
        } catch (SQLException e) {
            throw new SQLException("Entity " + cqrsId() + ": its query failed for key " + keyImage + ": " + e.getMessage(),
                    e.getSQLState(), e);
        }
    }

    /** Runs a related table's keys query for a related row's key; the keys of this entity's rows to re-send. */
    public List<ObjectNode> relatedKeys(Connection source, String keysSql, JsonNode relatedKey) throws SQLException {
        List<ObjectNode> keys = new ArrayList<>();
        try (PreparedStatement ps = source.prepareStatement("SELECT to_jsonb(annals_k)::text FROM (" + keysSql + ") annals_k")) {
            bindValues(ps, relatedKey);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    JsonNode row = readJson(rs.getString(1));
                    // Columns named as the key columns, or else taken in order.
                    List<JsonNode> inOrder = new ArrayList<>();
                    row.values().forEachRemaining(inOrder::add);
                    ObjectNode key = JsonNodeFactory.instance.objectNode();
                    for (int i = 0; i < keyColumns.size(); i++) {
                        String k = keyColumns.get(i);
                        key.set(k, row.has(k) ? row.get(k) : inOrder.get(Math.min(i, inOrder.size() - 1)));
                    }
                    keys.add(key);
                }
            }
        }
        return keys;
    }

    /** Binds the key columns of {@code keyImage}, in key order, to the statement's parameters. */
    private void bindKey(PreparedStatement ps, JsonNode keyImage) throws SQLException {
        int n = ps.getParameterMetaData().getParameterCount();
        for (int i = 0; i < n; i++) bind(ps, i + 1, keyImage.get(keyColumns.get(Math.min(i, keyColumns.size() - 1))));
    }

    private static void bindValues(PreparedStatement ps, JsonNode keyObject) throws SQLException {
        int n = ps.getParameterMetaData().getParameterCount();
        List<JsonNode> values = new ArrayList<>();
        keyObject.values().forEachRemaining(values::add);
        for (int i = 0; i < n; i++) bind(ps, i + 1, values.get(Math.min(i, values.size() - 1)));
    }

    /** Binds a JSON value so that PostgreSQL infers its type from the query (a text bound as varchar would not compare to an int). */
    private static void bind(PreparedStatement ps, int index, JsonNode v) throws SQLException {
        if (v == null || v.isNull()) ps.setNull(index, Types.OTHER);
        else if (v.isIntegralNumber() && v.canConvertToLong()) ps.setLong(index, v.longValue());
        else if (v.isNumber()) ps.setBigDecimal(index, new BigDecimal(v.asText()));
        else ps.setObject(index, v.isTextual() ? v.textValue() : v.toString(), Types.OTHER);
    }

    static JsonNode readJson(String text) {
        try {
            return Json.mapper().readTree(text);
        } catch (IOException e) {
            throw new IllegalStateException("PostgreSQL returned JSON that does not parse: " + e.getMessage(), e);
        }
    }
}
