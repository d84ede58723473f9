package io.annals.replication.master;

import io.annals.replication.ReplicationException;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The columns of a source table and their base types (a domain's underlying type), read from the
 * catalog: the wire form of a value depends on its type (a timestamp in Python's {@code str()}
 * form, a numeric as a float), and JSON alone cannot tell a numeric 10 from an integer 10.
 */
final class SourceColumns {

    private SourceColumns() {
    }

    /** Column name → base type name ({@code timestamptz}, {@code numeric}, {@code _int4}...), in column order. */
    static Map<String, String> of(Connection source, String schema, String table) throws SQLException {
        Map<String, String> out = new LinkedHashMap<>();
        try (PreparedStatement ps = source.prepareStatement("""
                SELECT a.attname, CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END
                FROM pg_catalog.pg_attribute a
                JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
                LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
                WHERE n.nspname = ? AND c.relname = ? AND a.attnum > 0 AND NOT a.attisdropped
                ORDER BY a.attnum""")) {
            ps.setString(1, schema);
            ps.setString(2, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.put(rs.getString(1), rs.getString(2));
            }
        }
        if (out.isEmpty()) {
            throw new ReplicationException("Source table " + schema + "." + table + " does not exist (or has no columns)"
                    + " in the source database; check the entity's table name");
        }
        return out;
    }
}
