package io.annals.replication.replica;

import io.annals.replication.ReplicationException;
import io.annals.replication.ReplicaTable;

import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A replica table as the database describes it (JDBC metadata, the same on PostgreSQL and
 * MariaDB): its columns with their JDBC types, and its primary key.
 *
 * @param config  the declaration
 * @param catalog the catalog (MariaDB: the database) or null
 * @param schema  the schema (PostgreSQL) or null
 * @param name    the table
 * @param columns column name → its description, in order
 * @param key     the primary key columns, in key order
 *
 * <pre>{@code
 * TableShape t = TableShape.read(connection, ReplicaTable.builder("author").build(), true);
 * t.key();                                   // [id]
 * }</pre>
 */
public record TableShape(ReplicaTable config, String catalog, String schema, String name, Map<String, Column> columns,
                         List<String> key) {

    /** The ordering columns every replica table has, as a django-cqrs {@code ReplicaMixin} model does. */
    public static final String REVISION = "cqrs_revision";
    public static final String UPDATED = "cqrs_updated";

    /**
     * One column.
     *
     * @param name     its name
     * @param jdbcType its {@link java.sql.Types} code
     * @param typeName the database's name for its type
     */
    public record Column(String name, int jdbcType, String typeName) {
    }

    /** Reads the shape of {@code config}'s table and checks that it can hold a replica. */
    static TableShape read(Connection c, ReplicaTable config, boolean postgres) throws SQLException {
        String t = config.table();
        int dot = t.indexOf('.');
        String first = dot < 0 ? null : t.substring(0, dot);
        String table = dot < 0 ? t : t.substring(dot + 1);
        String catalog = postgres ? null : (first != null ? first : c.getCatalog());
        String schema = postgres ? (first != null ? first : "public") : null;
        DatabaseMetaData md = c.getMetaData();
        Map<String, Column> columns = new LinkedHashMap<>();
        try (ResultSet rs = md.getColumns(catalog, schema, table, null)) {
            while (rs.next()) {
                String col = rs.getString("COLUMN_NAME");
                columns.put(col, new Column(col, rs.getInt("DATA_TYPE"), rs.getString("TYPE_NAME")));
            }
        }
        if (columns.isEmpty()) {
            throw new ReplicationException("Replica table " + t + " (for cqrs_id " + config.cqrsId() + ") does not exist; create it with"
                    + " the fields' columns, a primary key, cqrs_revision integer and cqrs_updated timestamp");
        }
        List<String> key = new ArrayList<>();
        Map<Short, String> bySeq = new java.util.TreeMap<>();
        try (ResultSet rs = md.getPrimaryKeys(catalog, schema, table)) {
            while (rs.next()) bySeq.put(rs.getShort("KEY_SEQ"), rs.getString("COLUMN_NAME"));
        }
        key.addAll(bySeq.values());
        if (key.isEmpty()) {
            throw new ReplicationException("Replica table " + t + " has no primary key; the replica finds rows by instance_pk,"
                    + " so give it the master's key as primary key");
        }
        for (String needed : List.of(REVISION, UPDATED)) {
            if (!columns.containsKey(needed)) {
                throw new ReplicationException("Replica table " + t + " has no column " + needed + ", which orders the messages of each"
                        + " row (as in a django-cqrs ReplicaMixin); add cqrs_revision integer NOT NULL and cqrs_updated timestamp NOT NULL");
            }
        }
        return new TableShape(config, catalog, schema, table, columns, List.copyOf(key));
    }
}
