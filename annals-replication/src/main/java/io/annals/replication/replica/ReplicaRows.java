package io.annals.replication.replica;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.annals.changelog.Json;
import io.annals.replication.ReplicaTable;
import io.annals.replication.ReplicationException;

import javax.sql.DataSource;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One replica table read by key, for {@code diff}: the revision of each of a chunk of
 * {@code instance_pk}s, and every key the table holds, streamed as {@code instance_pk}s. Keys of one
 * column or of several (then an {@code instance_pk} is an object of field → value), on PostgreSQL
 * and MariaDB; each database converts the values to its key columns' types itself.
 *
 * <pre>{@code
 * ReplicaRows rows = ReplicaRows.open(dataSource, ReplicaTable.builder("line").build());
 * Integer[] revisions = rows.revisions(List.of(pk1, pk2));      // null where the replica has no such row
 * rows.keys(List.of("order_id", "n"), 1_000, keys -> check(keys));
 * }</pre>
 */
public final class ReplicaRows {

    /** Receives a chunk of keys. */
    @FunctionalInterface
    public interface Keys {
        void accept(List<JsonNode> keys) throws Exception;
    }

    private final DataSource database;
    private final Dialect dialect;
    private final TableShape table;

    private ReplicaRows(DataSource database, Dialect dialect, TableShape table) {
        this.database = database;
        this.dialect = dialect;
        this.table = table;
    }

    /** Checks that {@code config}'s table exists and has a primary key and the ordering columns. */
    public static ReplicaRows open(DataSource database, ReplicaTable config) throws SQLException {
        try (Connection c = database.getConnection()) {
            Dialect dialect = Dialect.of(c);
            return new ReplicaRows(database, dialect, TableShape.read(c, config, dialect.postgres()));
        }
    }

    /**
     * The {@code cqrs_revision} of the row of each of {@code pks}, in their order; null where the
     * replica has none.
     *
     * @throws ReplicationException when a key does not have the table's key columns
     */
    public Integer[] revisions(List<JsonNode> pks) throws SQLException {
        Integer[] out = new Integer[pks.size()];
        if (pks.isEmpty()) return out;
        List<Map<String, JsonNode>> keys = pks.stream().map(this::columns).toList();
        try (Connection c = database.getConnection()) {
            if (dialect instanceof Dialect.Postgres) {
                // The keys travel as one JSON array; the server reads each as the table's row type.
                List<String> match = table.key().stream().map(k -> "t." + dialect.quote(k) + " = r." + dialect.quote(k)).toList();
                String sql = "SELECT e.ord, t.cqrs_revision FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS e(j, ord)"
                        + " CROSS JOIN LATERAL jsonb_populate_record(NULL::" + dialect.qualified(table) + ", e.j) AS r"
                        + " JOIN " + dialect.qualified(table) + " t ON " + String.join(" AND ", match);
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    ps.setString(1, Json.mapper().valueToTree(keys).toString());
                    read(ps, out);
                }
            } else {
                // A derived table of (ordinal, key values), each value bound by its column's type.
                StringBuilder values = new StringBuilder();
                for (int i = 0; i < keys.size(); i++) {
                    values.append(i == 0 ? "SELECT ? AS ord" : " UNION ALL SELECT ?");
                    for (String k : table.key()) values.append(i == 0 ? ", ? AS " + dialect.quote(k) : ", ?");
                }
                List<String> match = table.key().stream().map(k -> "t." + dialect.quote(k) + " = v." + dialect.quote(k)).toList();
                String sql = "SELECT v.ord, t.cqrs_revision FROM (" + values + ") v JOIN " + dialect.qualified(table) + " t ON "
                        + String.join(" AND ", match);
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    int p = 1;
                    for (int i = 0; i < keys.size(); i++) {
                        ps.setInt(p++, i + 1);
                        for (String k : table.key()) {
                            try {
                                Dialect.MariaDb.bind(ps, p++, keys.get(i).get(k), table.columns().get(k));
                            } catch (PoisonException e) {
                                throw new ReplicationException("Key " + pks.get(i) + " does not fit table " + table.name() + ": "
                                        + e.getMessage(), e);
                            }
                        }
                    }
                    read(ps, out);
                }
            }
        }
        return out;
    }

    /**
     * Streams every key of the table as an {@code instance_pk}, {@code chunk} at a time, from one
     * consistent read. {@code keyFields} are the master's field names of the key, in the master's
     * key order (an object of them for a key of several columns, as the master sends it).
     */
    public void keys(List<String> keyFields, int chunk, Keys sink) throws Exception {
        List<String> columns = new ArrayList<>(keyFields.size());
        for (String f : keyFields) {
            String col = table.config().column(f);
            if (!table.key().contains(col)) {
                throw new ReplicationException("The master's key field " + f + " is not a key column of replica table " + table.name()
                        + " (its key is " + table.key() + "); give the replica the master's key as its primary key");
            }
            columns.add(col);
        }
        boolean pg = dialect instanceof Dialect.Postgres;
        // On PostgreSQL the server writes each value as JSON (dates, uuids, numerics as such); MariaDB's come through JDBC.
        List<String> select = columns.stream().map(c -> pg ? "to_jsonb(" + dialect.quote(c) + ")::text" : dialect.quote(c)).toList();
        try (Connection c = database.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("SELECT " + String.join(", ", select) + " FROM " + dialect.qualified(table))) {
                ps.setFetchSize(chunk); // a cursor on PostgreSQL (autocommit off), streamed rows on MariaDB
                try (ResultSet rs = ps.executeQuery()) {
                    List<JsonNode> keys = new ArrayList<>(chunk);
                    while (rs.next()) {
                        if (keyFields.size() == 1) {
                            keys.add(value(rs, 1, pg));
                        } else {
                            ObjectNode pk = JsonNodeFactory.instance.objectNode();
                            for (int i = 0; i < keyFields.size(); i++) pk.set(keyFields.get(i), value(rs, i + 1, pg));
                            keys.add(pk);
                        }
                        if (keys.size() == chunk) {
                            sink.accept(keys);
                            keys = new ArrayList<>(chunk);
                        }
                    }
                    if (!keys.isEmpty()) sink.accept(keys);
                }
            }
            c.commit();
        }
    }

    /** The key columns' values of {@code pk}: one value for a one-column key, else an object of fields (renamed as declared). */
    private Map<String, JsonNode> columns(JsonNode pk) {
        Map<String, JsonNode> key = new java.util.LinkedHashMap<>();
        if (table.key().size() == 1) {
            key.put(table.key().get(0), pk.isObject() && pk.size() == 1 ? pk.elements().next() : pk);
            return key;
        }
        if (!pk.isObject()) {
            throw new ReplicationException("instance_pk " + pk + " is one value, but replica table " + table.name() + " has the key "
                    + table.key());
        }
        for (var it = pk.properties().iterator(); it.hasNext(); ) {
            var e = it.next();
            key.put(table.config().column(e.getKey()), e.getValue());
        }
        for (String k : table.key()) {
            if (!key.containsKey(k)) {
                throw new ReplicationException("instance_pk " + pk + " has no value for key column " + k + " of replica table " + table.name());
            }
        }
        return key;
    }

    private static void read(PreparedStatement ps, Integer[] out) throws SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) out[(int) rs.getLong(1) - 1] = rs.getInt(2);
        }
    }

    private static JsonNode value(ResultSet rs, int i, boolean pg) throws SQLException {
        if (pg) {
            try {
                return Json.mapper().readTree(rs.getString(i));
            } catch (IOException e) {
                throw new SQLException("to_jsonb gave no JSON: " + rs.getString(i), e);
            }
        }
        JsonNodeFactory f = JsonNodeFactory.instance;
        return switch (rs.getObject(i)) {
            case null -> f.nullNode();
            case Integer n -> f.numberNode(n);
            case Long n -> f.numberNode(n);
            case Short n -> f.numberNode(n);
            case java.math.BigInteger n -> f.numberNode(n);
            case java.math.BigDecimal d -> d.scale() <= 0 ? f.numberNode(d.toBigIntegerExact()) : f.numberNode(d);
            case java.time.LocalDateTime t -> f.textNode(t.toString());
            case java.sql.Timestamp t -> f.textNode(t.toLocalDateTime().toString());
            case Object o -> f.textNode(o.toString());
        };
    }
}
