package io.annals.projections;

import io.annals.changelog.Operation;
import io.annals.changelog.Sql;
import io.annals.projections.Projection.Source;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The read rows of canonical keys, derived from the source's current state: by running a SQL
 * mapping's query for the keys, or by reading the source rows and calling a Java mapping on
 * them. What live SQL projections apply, and what verify, repair and rebuild compare and write.
 */
final class Derivation {

    /** {@code :ids} or {@code :keys}, but not inside a {@code ::} cast. */
    private static final Pattern PARAMETER = Pattern.compile("(?<!:):(ids|keys)\\b");
    private static final String KEY_LABEL = "annals$canonical_pk";

    private Derivation() {
    }

    /** A failed mapping of one source row: the row, and why. */
    static final class MappingFailure extends Exception {
        private static final long serialVersionUID = 1L;
        final transient CanonicalKey key;

        MappingFailure(CanonicalKey key, String message, Throwable cause) {
            super(message, cause);
            this.key = key;
        }
    }

    /** {@code sql} with its key parameters bound to {@code keys} (SQL text values, or key objects). */
    static PreparedStatement prepare(Connection c, String sql, List<CanonicalKey> keys) throws SQLException {
        Matcher m = PARAMETER.matcher(sql);
        StringBuilder out = new StringBuilder();
        List<String> kinds = new ArrayList<>();
        while (m.find()) {
            kinds.add(m.group(1));
            m.appendReplacement(out, m.group(1).equals("ids") ? "?::text[]" : "?::jsonb");
        }
        m.appendTail(out);
        PreparedStatement ps = c.prepareStatement(out.toString());
        try {
            String[] ids = null;
            String json = null;
            for (int i = 0; i < kinds.size(); i++) {
                if (kinds.get(i).equals("ids")) {
                    if (ids == null) ids = keys.stream().map(CanonicalKey::idText).toArray(String[]::new);
                    ps.setArray(i + 1, c.createArrayOf("text", ids));
                } else {
                    if (json == null) json = CanonicalKey.jsonArray(keys);
                    ps.setString(i + 1, json);
                }
            }
            return ps;
        } catch (SQLException | RuntimeException e) {
            ps.close();
            throw e;
        }
    }

    /**
     * The rows a SQL mapping derives for {@code keys}, by key; every key asked for is in the map
     * (with no rows when the query returns none for it).
     */
    static Map<CanonicalKey, List<Map<String, Object>>> query(Connection source, Bound b, Source s, List<CanonicalKey> keys)
            throws SQLException {
        Map<CanonicalKey, List<Map<String, Object>>> out = new LinkedHashMap<>();
        for (CanonicalKey k : keys) out.put(k, new ArrayList<>(1));
        if (keys.isEmpty()) return out;
        String keyColumn = b.sources.get(s.table()).primaryKey().size() == 1 ? b.sources.get(s.table()).primaryKey().get(0) : null;
        String wrapped = "SELECT to_jsonb(q." + Sql.identifier(Bound.CANONICAL_PK) + ")::text AS " + Sql.identifier(KEY_LABEL)
                + ", q.* FROM (" + s.query() + ") q";
        try (PreparedStatement ps = prepare(source, wrapped, keys); ResultSet rs = ps.executeQuery()) {
            ResultSetMetaData md = rs.getMetaData();
            int n = md.getColumnCount();
            String[] labels = new String[n + 1];
            for (int i = 1; i <= n; i++) labels[i] = md.getColumnLabel(i);
            while (rs.next()) {
                String pk = rs.getString(1);
                if (pk == null || pk.equals("null")) {
                    throw new ProjectionException("Projection " + b.name() + ": the query for " + s.table()
                            + " returned a row whose canonical_pk is NULL; it must be the canonical row's key");
                }
                CanonicalKey key = pk.startsWith("{") ? CanonicalKey.of(s.canonicalType(), pk)
                        : keyColumn == null ? null : CanonicalKey.ofValue(s.canonicalType(), keyColumn, pk);
                List<Map<String, Object>> rows = key == null ? null : out.get(key);
                if (rows == null) {
                    throw new ProjectionException("Projection " + b.name() + ": the query for " + s.table()
                            + " returned a row for canonical key " + pk + ", which it was not asked for; filter it by"
                            + " :ids or :keys");
                }
                Map<String, Object> row = new LinkedHashMap<>();
                for (int i = 2; i <= n; i++) {
                    if (!labels[i].equals(Bound.CANONICAL_PK)) row.put(labels[i], rs.getString(i));
                }
                rows.add(row);
            }
        }
        return out;
    }

    /** The keys' current source rows as JSON, by key (absent keys: no row any more). */
    static Map<CanonicalKey, String> currentRows(Connection source, Bound b, Source s, List<CanonicalKey> keys)
            throws SQLException {
        Map<CanonicalKey, String> out = new HashMap<>();
        if (keys.isEmpty()) return out;
        TableInfo info = b.sources.get(s.table());
        StringBuilder tuple = new StringBuilder("(");
        StringBuilder fromJson = new StringBuilder("(SELECT ");
        int i = 0;
        for (String k : info.primaryKey()) {
            if (i > 0) {
                tuple.append(", ");
                fromJson.append(", ");
            }
            tuple.append("t.").append(Sql.identifier(k));
            fromJson.append("(x ->> ").append(Sql.literal(k)).append(")::").append(info.column(k).type());
            i++;
        }
        tuple.append(')');
        fromJson.append(" FROM jsonb_array_elements(?::jsonb) x)");
        String sql = "SELECT " + keyObject(info, "t") + "::text, to_jsonb(t)::text FROM " + s.table().sql() + " t WHERE "
                + tuple + " IN " + fromJson;
        try (PreparedStatement ps = source.prepareStatement(sql)) {
            ps.setString(1, CanonicalKey.jsonArray(keys));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.put(CanonicalKey.of(s.canonicalType(), rs.getString(1)), rs.getString(2));
            }
        }
        return out;
    }

    /** {@code jsonb_build_object} of the table's key columns, as the log writes a primary key. */
    static String keyObject(TableInfo info, String alias) {
        StringBuilder b = new StringBuilder("jsonb_build_object(");
        int i = 0;
        for (String k : info.primaryKey()) {
            if (i++ > 0) b.append(", ");
            b.append(Sql.literal(k)).append(", ").append(alias).append('.').append(Sql.identifier(k));
        }
        return b.append(')').toString();
    }

    /** Calls a Java mapping on a source row's current state. */
    static List<Map<String, Object>> map(Bound b, Source s, CanonicalKey key, String rowJson) throws MappingFailure {
        Map<String, Object> after = TextValues.image(rowJson);
        SourceChange change = new SourceChange(s.table().toString(), Operation.SNAPSHOT,
                TextValues.image(key.json()), Map.of(), after, Map.of(), null, null);
        return call(b, s, key, change);
    }

    /** Calls a Java mapping, and checks that its rows fit the read table. */
    static List<Map<String, Object>> call(Bound b, Source s, CanonicalKey key, SourceChange change) throws MappingFailure {
        List<Map<String, Object>> rows;
        try {
            rows = s.mapper().rows(change);
        } catch (Exception | LinkageError | AssertionError e) {
            throw new MappingFailure(key, "the mapping of " + s.table() + " threw " + e, e);
        }
        if (rows == null) {
            throw new MappingFailure(key, "the mapping of " + s.table() + " returned null; return List.of() for no rows", null);
        }
        for (Map<String, Object> row : rows) {
            if (row == null) throw new MappingFailure(key, "the mapping of " + s.table() + " returned a null row", null);
            for (String col : row.keySet()) {
                if (col.equals(Bound.CANONICAL_TYPE) || col.equals(Bound.CANONICAL_PK)) {
                    throw new MappingFailure(key, "the mapping of " + s.table() + " set " + col + ", which the projector"
                            + " fills itself; leave it out", null);
                }
                if (b.target.column(col) == null) {
                    throw new MappingFailure(key, "the mapping of " + s.table() + " returned column " + col + ", which "
                            + b.target.ref() + " does not have; its columns are " + b.target.columns().keySet(), null);
                }
            }
        }
        return rows;
    }

    /** Takes rows of a table (key to its JSON), a chunk at a time. */
    @FunctionalInterface
    interface RowChunks {
        void accept(Map<CanonicalKey, String> rows) throws Exception;
    }

    /**
     * Streams every row of {@code s}'s table with its key, in chunks of {@code chunk}, on
     * {@code source} in its transaction: what a rebuild maps, read once rather than key then row.
     */
    static void allRows(Connection source, Bound b, Source s, int chunk, RowChunks each) throws Exception {
        TableInfo info = b.sources.get(s.table());
        try (PreparedStatement ps = source.prepareStatement("SELECT " + keyObject(info, "t") + "::text, to_jsonb(t)::text FROM "
                + s.table().sql() + " t")) {
            ps.setFetchSize(chunk);
            try (ResultSet rs = ps.executeQuery()) {
                Map<CanonicalKey, String> rows = new LinkedHashMap<>();
                while (rs.next()) {
                    rows.put(CanonicalKey.of(s.canonicalType(), rs.getString(1)), rs.getString(2));
                    if (rows.size() == chunk) {
                        each.accept(rows);
                        rows = new LinkedHashMap<>();
                    }
                }
                if (!rows.isEmpty()) each.accept(rows);
            }
        }
    }

    /** Takes the keys of a table, a chunk at a time. */
    @FunctionalInterface
    interface KeyChunks {
        void accept(List<CanonicalKey> keys) throws Exception;
    }

    /**
     * Streams every key of {@code s}'s table in key order, in chunks of {@code chunk}, on
     * {@code source} (in its transaction, so in its snapshot when that is repeatable read).
     */
    static void allKeys(Connection source, Bound b, Source s, int chunk, KeyChunks each) throws Exception {
        TableInfo info = b.sources.get(s.table());
        StringBuilder order = new StringBuilder();
        for (String k : info.primaryKey()) order.append(order.isEmpty() ? "" : ", ").append(Sql.identifier(k));
        boolean auto = source.getAutoCommit();
        if (auto) source.setAutoCommit(false); // a cursor, so that memory stays bounded
        try (PreparedStatement ps = source.prepareStatement("SELECT " + keyObject(info, "t") + "::text FROM "
                + s.table().sql() + " t ORDER BY " + order)) {
            ps.setFetchSize(chunk);
            try (ResultSet rs = ps.executeQuery()) {
                List<CanonicalKey> keys = new ArrayList<>(chunk);
                while (rs.next()) {
                    keys.add(CanonicalKey.of(s.canonicalType(), rs.getString(1)));
                    if (keys.size() == chunk) {
                        each.accept(keys);
                        keys = new ArrayList<>(chunk);
                    }
                }
                if (!keys.isEmpty()) each.accept(keys);
            }
        } finally {
            if (auto) {
                source.commit();
                source.setAutoCommit(true);
            }
        }
    }
}
