package io.annals.projections;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A table's columns and primary key, read from the catalog of the database it lives in: what
 * definitions are checked against at start, and what value rendering needs (array and json
 * columns are written differently).
 *
 * @param columns    column name to its type, in column order
 * @param primaryKey the primary key's columns, in key order; empty when it has none
 */
record TableInfo(TableRef ref, Map<String, Column> columns, List<String> primaryKey) {

    /** A column: its SQL type ({@code format_type}), and whether it is an array or json. */
    record Column(String name, String type, boolean array, boolean json, boolean hasDefault, boolean generated) {
    }

    static Optional<TableInfo> read(Connection c, TableRef ref) throws SQLException {
        Map<String, Column> columns = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT a.attname, format_type(a.atttypid, a.atttypmod),"
                + " t.typcategory = 'A', t.typname IN ('json', 'jsonb'), a.atthasdef OR a.attidentity <> '',"
                + " a.attidentity = 'a' OR a.attgenerated <> ''"
                + " FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid JOIN pg_namespace n ON n.oid = r.relnamespace"
                + " JOIN pg_type t ON t.oid = a.atttypid"
                + " WHERE n.nspname = ? AND r.relname = ? AND r.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped"
                + " ORDER BY a.attnum")) {
            ps.setString(1, ref.schema());
            ps.setString(2, ref.name());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    columns.put(rs.getString(1), new Column(rs.getString(1), rs.getString(2), rs.getBoolean(3),
                            rs.getBoolean(4), rs.getBoolean(5), rs.getBoolean(6)));
                }
            }
        }
        if (columns.isEmpty()) return Optional.empty();
        List<String> key = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT a.attname FROM pg_index i"
                + " JOIN pg_class r ON r.oid = i.indrelid JOIN pg_namespace n ON n.oid = r.relnamespace"
                + " JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) ON true"
                + " JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum = k.attnum"
                + " WHERE n.nspname = ? AND r.relname = ? AND i.indisprimary ORDER BY k.ord")) {
            ps.setString(1, ref.schema());
            ps.setString(2, ref.name());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) key.add(rs.getString(1));
            }
        }
        return Optional.of(new TableInfo(ref, columns, List.copyOf(key)));
    }

    static TableInfo require(Connection c, TableRef ref, String projection, String role, String database) throws SQLException {
        return read(c, ref).orElseThrow(() -> new ProjectionException("Projection " + projection + ": its " + role + " "
                + ref + " does not exist in the " + database + " database; create it, or fix the name"));
    }

    Column column(String name) {
        return columns.get(name);
    }

    /** Whether there is an index whose leading columns are exactly these, in any order. */
    static boolean hasIndexOn(Connection c, TableRef ref, String... leading) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_index i JOIN pg_class r ON r.oid = i.indrelid"
                + " JOIN pg_namespace n ON n.oid = r.relnamespace"
                + " WHERE n.nspname = ? AND r.relname = ? AND i.indnatts >= ? AND (SELECT array_agg(a.attname::text ORDER BY a.attname)"
                + " FROM pg_attribute a WHERE a.attrelid = r.oid AND a.attnum = ANY((i.indkey::int2[])[0:? - 1]))"
                + " = (SELECT array_agg(x ORDER BY x) FROM unnest(?::text[]) x)")) {
            ps.setString(1, ref.schema());
            ps.setString(2, ref.name());
            ps.setInt(3, leading.length);
            ps.setInt(4, leading.length);
            ps.setArray(5, c.createArrayOf("text", leading));
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }
}
