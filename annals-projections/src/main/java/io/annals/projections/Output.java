package io.annals.projections;

import io.annals.changelog.Sql;
import io.annals.projections.Projection.Columns;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes a projection's rows into its target, in the caller's transaction: replaces the read
 * rows of canonical keys (one DELETE per canonical type, then COPY), removes a type's rows, or
 * updates computed columns. The one place that writes read tables, so the live projector,
 * repair and rebuild write alike.
 */
final class Output {

    private final Bound b;
    private final TableRef table;

    Output(Bound b, TableRef table) {
        this.b = b;
        this.table = table;
    }

    /** Writes into {@code b}'s target. */
    static Output of(Bound b) {
        return new Output(b, b.projection.target().table());
    }

    /** The read rows of a canonical type all go (its source was truncated). */
    void removeType(Connection tx, String canonicalType) throws SQLException {
        if (b.projection.target() instanceof Columns) return; // the table's own rows went with the truncate
        try (PreparedStatement ps = tx.prepareStatement("DELETE FROM " + table.sql() + " WHERE canonical_type = ?")) {
            ps.setString(1, canonicalType);
            ps.executeUpdate();
        }
    }

    /** Replaces the read rows of each key with its rows (none: the key's rows go). */
    void replace(Connection tx, Map<CanonicalKey, List<Map<String, Object>>> rowsByKey) throws SQLException {
        if (rowsByKey.isEmpty()) return;
        if (b.projection.target() instanceof Columns c) {
            updateColumns(tx, c, rowsByKey);
            return;
        }
        Map<String, List<CanonicalKey>> byType = new LinkedHashMap<>();
        for (CanonicalKey k : rowsByKey.keySet()) byType.computeIfAbsent(k.type(), t -> new ArrayList<>()).add(k);
        try (PreparedStatement ps = tx.prepareStatement("DELETE FROM " + table.sql() + " WHERE canonical_type = ? AND"
                + " canonical_pk = ANY(?::" + (b.jsonKey ? "jsonb" : "text") + "[])")) {
            for (Map.Entry<String, List<CanonicalKey>> e : byType.entrySet()) {
                ps.setString(1, e.getKey());
                ps.setArray(2, tx.createArrayOf("text", e.getValue().stream()
                        .map(k -> b.jsonKey ? k.json() : k.text()).toArray(String[]::new)));
                ps.addBatch();
            }
            ps.executeBatch();
        }
        insert(tx, rowsByKey);
    }

    /** Inserts rows (of keys that have none yet) with COPY, one COPY per set of columns. */
    void insert(Connection tx, Map<CanonicalKey, List<Map<String, Object>>> rowsByKey) throws SQLException {
        Map<Set<String>, StringBuilder> copies = new LinkedHashMap<>();
        Map<Set<String>, List<String>> columnLists = new LinkedHashMap<>();
        for (Map.Entry<CanonicalKey, List<Map<String, Object>>> e : rowsByKey.entrySet()) {
            CanonicalKey key = e.getKey();
            for (Map<String, Object> row : e.getValue()) {
                Set<String> cols = row.keySet();
                StringBuilder data = copies.get(cols);
                if (data == null) {
                    cols = new LinkedHashSet<>(cols);
                    data = new StringBuilder();
                    copies.put(cols, data);
                    columnLists.put(cols, List.copyOf(cols));
                }
                TextValues.copyField(data, key.type());
                data.append('\t');
                TextValues.copyField(data, b.jsonKey ? key.json() : key.text());
                for (String col : columnLists.get(cols)) {
                    data.append('\t');
                    TextValues.copyField(data, TextValues.text(row.get(col), b.target.column(col)));
                }
                data.append('\n');
            }
        }
        for (Map.Entry<Set<String>, StringBuilder> e : copies.entrySet()) {
            StringBuilder sql = new StringBuilder("COPY ").append(table.sql()).append(" (canonical_type, canonical_pk");
            for (String col : columnLists.get(e.getKey())) sql.append(", ").append(Sql.identifier(col));
            sql.append(") FROM STDIN");
            copy(tx, sql.toString(), e.getValue());
        }
    }

    private static void copy(Connection tx, String sql, CharSequence data) throws SQLException {
        CopyIn in = tx.unwrap(PGConnection.class).getCopyAPI().copyIn(sql);
        try {
            byte[] bytes = data.toString().getBytes(StandardCharsets.UTF_8);
            in.writeToCopy(bytes, 0, bytes.length);
            in.endCopy();
        } finally {
            if (in.isActive()) in.cancelCopy();
        }
    }

    /** Computed columns: each key's one row updates the canonical row; a key with no row is left alone. */
    private void updateColumns(Connection tx, Columns c, Map<CanonicalKey, List<Map<String, Object>>> rowsByKey)
            throws SQLException {
        TableInfo info = b.target;
        StringBuilder sql = new StringBuilder("UPDATE ").append(table.sql()).append(" SET ");
        for (int i = 0; i < c.columns().size(); i++) {
            String col = c.columns().get(i);
            if (i > 0) sql.append(", ");
            sql.append(Sql.identifier(col)).append(" = ?::").append(info.column(col).type());
        }
        sql.append(" WHERE ");
        for (int i = 0; i < info.primaryKey().size(); i++) {
            String k = info.primaryKey().get(i);
            if (i > 0) sql.append(" AND ");
            sql.append(Sql.identifier(k)).append(" = (?::jsonb ->> ").append(Sql.literal(k)).append(")::")
                    .append(info.column(k).type());
        }
        // Only when a value differs: an update that changes nothing would still be a change in the log.
        sql.append(" AND (");
        for (int i = 0; i < c.columns().size(); i++) {
            String col = c.columns().get(i);
            if (i > 0) sql.append(" OR ");
            sql.append(Sql.identifier(col)).append(" IS DISTINCT FROM ?::").append(info.column(col).type());
        }
        sql.append(')');
        try (PreparedStatement ps = tx.prepareStatement(sql.toString())) {
            int pending = 0;
            for (Map.Entry<CanonicalKey, List<Map<String, Object>>> e : rowsByKey.entrySet()) {
                List<Map<String, Object>> rows = e.getValue();
                if (rows.isEmpty()) continue;
                if (rows.size() > 1) {
                    throw new ProjectionException("Projection " + b.name() + ": its query returned " + rows.size()
                            + " rows for " + e.getKey().json() + "; computed columns take one row per key (GROUP BY the key)");
                }
                Map<String, Object> row = rows.get(0);
                int n = 1;
                for (String col : c.columns()) setText(ps, n++, TextValues.text(row.get(col), info.column(col)));
                for (int i = 0; i < info.primaryKey().size(); i++) ps.setString(n++, e.getKey().json());
                for (String col : c.columns()) setText(ps, n++, TextValues.text(row.get(col), info.column(col)));
                ps.addBatch();
                if (++pending == 1_000) {
                    ps.executeBatch();
                    pending = 0;
                }
            }
            if (pending > 0) ps.executeBatch();
        }
    }

    private static void setText(PreparedStatement ps, int i, String text) throws SQLException {
        if (text == null) ps.setNull(i, Types.VARCHAR);
        else ps.setString(i, text);
    }
}
