package io.annals.projections;

import io.annals.projections.Projection.Columns;
import io.annals.projections.Projection.Dependency;
import io.annals.projections.Projection.ReadTable;
import io.annals.projections.Projection.Source;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A projection checked against its databases: the target's and the sources' catalog entries,
 * and each SQL mapping's result columns. Built once at start, so that a bad definition fails
 * there, naming the projection and the fix, rather than on the first change.
 */
final class Bound {

    static final String CANONICAL_TYPE = "canonical_type";
    static final String CANONICAL_PK = "canonical_pk";

    final Projection projection;
    final TableInfo target;
    /** Whether {@code canonical_pk} is {@code jsonb} (else {@code text}); read-table targets only. */
    final boolean jsonKey;
    final Map<TableRef, TableInfo> sources = new HashMap<>();
    final Map<TableRef, TableInfo> dependencyTables = new HashMap<>();
    /** Each SQL source's result columns, but {@code canonical_pk}. */
    final Map<TableRef, List<String>> queryColumns = new HashMap<>();
    /** Whether the source and output are one database, so that a SQL mapping reads in the output's transaction. */
    final boolean sameDatabase;

    private Bound(Projection projection, TableInfo target, boolean jsonKey, boolean sameDatabase) {
        this.projection = projection;
        this.target = target;
        this.jsonKey = jsonKey;
        this.sameDatabase = sameDatabase;
    }

    String name() {
        return projection.name();
    }

    static Bound check(Projection p, Connection output, Connection source, boolean sameDatabase) throws SQLException {
        String name = p.name();
        TableInfo target = TableInfo.require(output, p.target().table(), name, "target table", "output");
        boolean jsonKey = false;
        if (p.target() instanceof ReadTable rt) {
            TableInfo.Column type = target.column(CANONICAL_TYPE);
            TableInfo.Column pk = target.column(CANONICAL_PK);
            if (type == null || pk == null) {
                throw new ProjectionException("Projection " + name + ": read table " + rt.table() + " needs the columns"
                        + " canonical_type text and canonical_pk jsonb (or text), which say which source row each read row"
                        + " stands for; add them: ALTER TABLE " + rt.table().sql() + " ADD COLUMN canonical_type text NOT NULL,"
                        + " ADD COLUMN canonical_pk jsonb NOT NULL");
            }
            if (!pk.type().equals("jsonb") && !pk.type().equals("text")) {
                throw new ProjectionException("Projection " + name + ": " + rt.table() + ".canonical_pk is " + pk.type()
                        + "; make it jsonb (any key shape) or text (one-column keys)");
            }
            jsonKey = pk.type().equals("jsonb");
            if (!TableInfo.hasIndexOn(output, rt.table(), CANONICAL_TYPE, CANONICAL_PK)) {
                throw new ProjectionException("Projection " + name + ": read table " + rt.table() + " has no index on"
                        + " (canonical_type, canonical_pk), so every change would scan it; create one: CREATE INDEX ON "
                        + rt.table().sql() + " (canonical_type, canonical_pk)");
            }
            if (rt.shardColumn() != null && target.column(rt.shardColumn()) == null) {
                throw new ProjectionException("Projection " + name + ": shard key column " + rt.shardColumn()
                        + " is not a column of " + rt.table() + "; its columns are " + target.columns().keySet());
            }
        } else if (p.target() instanceof Columns c) {
            for (String col : c.columns()) {
                if (target.column(col) == null) {
                    throw new ProjectionException("Projection " + name + ": " + c.table() + " has no column " + col
                            + " to compute; its columns are " + target.columns().keySet());
                }
            }
        }
        if (p.target() instanceof ReadTable rt && target.primaryKey().isEmpty() && publishedWithoutIdentity(output, rt.table())) {
            throw new ProjectionException("Projection " + name + ": read table " + rt.table() + " is in a publication that"
                    + " publishes deletes but has no replica identity, so PostgreSQL refuses the projector's deletes;"
                    + " give it a primary key or run ALTER TABLE " + rt.table().sql() + " REPLICA IDENTITY FULL");
        }
        Bound b = new Bound(p, target, jsonKey, sameDatabase);
        for (Source s : p.sources()) {
            TableInfo info = TableInfo.require(source, s.table(), name, "source table", "source");
            if (info.primaryKey().isEmpty()) {
                throw new ProjectionException("Projection " + name + ": source table " + s.table() + " has no primary key,"
                        + " so its rows have no canonical key; add one");
            }
            b.sources.put(s.table(), info);
            if (s.isSql()) b.queryColumns.put(s.table(), b.checkQuery(source, s, info));
        }
        for (Map.Entry<TableRef, Map<String, String>> wb : p.writeBack().entrySet()) {
            TableInfo info = b.sources.get(wb.getKey());
            for (Map.Entry<String, String> col : wb.getValue().entrySet()) {
                if (info.column(col.getValue()) == null) {
                    throw new ProjectionException("Projection " + name + ": writeBack(" + wb.getKey() + ", " + col.getKey()
                            + ", " + col.getValue() + ") names a column " + wb.getKey() + " does not have; its columns are "
                            + info.columns().keySet());
                }
            }
        }
        for (Dependency d : p.dependencies()) {
            TableInfo info = TableInfo.require(source, d.table(), name, "dependency table", "source");
            if (info.primaryKey().isEmpty() && d.keyColumn() == null) {
                throw new ProjectionException("Projection " + name + ": dependency " + d.table() + " has no primary key to"
                        + " pass to its query; add one, or use dependsOnColumn");
            }
            if (d.keyColumn() != null) {
                if (info.column(d.keyColumn()) == null) {
                    throw new ProjectionException("Projection " + name + ": dependency " + d.table() + " has no column "
                            + d.keyColumn() + "; its columns are " + info.columns().keySet());
                }
                if (!replicaIdentityFull(source, d.table())) {
                    throw new ProjectionException("Projection " + name + ": dependsOnColumn(" + d.table() + ", "
                            + d.keyColumn() + ") reads " + d.keyColumn() + " from the rows' before images too (a deleted"
                            + " or moved row must update its old parent), which the log has only under REPLICA IDENTITY"
                            + " FULL; run ALTER TABLE " + d.table().sql() + " REPLICA IDENTITY FULL");
                }
                if (b.sources.get(d.canonical()).primaryKey().size() != 1) {
                    throw new ProjectionException("Projection " + name + ": dependsOnColumn(" + d.table() + ", "
                            + d.keyColumn() + ") needs " + d.canonical() + " to have a one-column key; use a dependency query");
                }
            } else {
                b.checkDependencyQuery(source, d);
            }
            b.dependencyTables.put(d.table(), info);
        }
        return b;
    }

    /** Runs the query for no keys, to see that it parses and what it returns. */
    private List<String> checkQuery(Connection source, Source s, TableInfo info) throws SQLException {
        String name = projection.name();
        List<String> columns = new ArrayList<>();
        boolean hasKey = false;
        try (PreparedStatement ps = Derivation.prepare(source, s.query(), List.of())) {
            ResultSetMetaData md = ps.getMetaData();
            if (md == null) {
                try (ResultSet rs = ps.executeQuery()) {
                    md = rs.getMetaData();
                }
            }
            for (int i = 1; i <= md.getColumnCount(); i++) {
                String col = md.getColumnLabel(i);
                if (col.equals(CANONICAL_PK)) hasKey = true;
                else columns.add(col);
            }
        } catch (SQLException e) {
            throw new ProjectionException("Projection " + name + ": the query for " + s.table() + " does not run: "
                    + e.getMessage(), e);
        }
        if (!hasKey) {
            throw new ProjectionException("Projection " + name + ": the query for " + s.table() + " returns no canonical_pk"
                    + " column; select the canonical row's key as it, e.g. SELECT i.id AS canonical_pk, ...");
        }
        if ((info.primaryKey().size() != 1 && s.query().contains(":ids"))) {
            throw new ProjectionException("Projection " + name + ": " + s.table() + " has a key of "
                    + info.primaryKey().size() + " columns " + info.primaryKey() + ", so its query must take :keys, not :ids");
        }
        Set<String> allowed = projection.target() instanceof Columns c ? Set.copyOf(c.columns()) : target.columns().keySet();
        for (String col : columns) {
            if (col.equals(CANONICAL_TYPE) || !allowed.contains(col)) {
                throw new ProjectionException("Projection " + name + ": the query for " + s.table() + " returns column "
                        + col + ", which " + (col.equals(CANONICAL_TYPE) ? "the projector fills itself" : "is not a column the"
                        + " projection writes: " + allowed) + "; rename or drop it in the query");
            }
        }
        return List.copyOf(columns);
    }

    private void checkDependencyQuery(Connection source, Dependency d) throws SQLException {
        try (PreparedStatement ps = Derivation.prepare(source, d.query(), List.of())) {
            ps.executeQuery().close();
        } catch (SQLException e) {
            throw new ProjectionException("Projection " + projection.name() + ": the dependency query for " + d.table()
                    + " does not run: " + e.getMessage(), e);
        }
    }

    /** Whether deletes from the table would fail: published, yet nothing identifies its rows. */
    private static boolean publishedWithoutIdentity(Connection c, TableRef t) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT r.relreplident IN ('d', 'n') AND EXISTS (SELECT 1"
                + " FROM pg_publication_tables pt JOIN pg_publication p ON p.pubname = pt.pubname"
                + " WHERE pt.schemaname = n.nspname AND pt.tablename = r.relname AND p.pubdelete)"
                + " FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace WHERE n.nspname = ? AND r.relname = ?")) {
            ps.setString(1, t.schema());
            ps.setString(2, t.name());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    private static boolean replicaIdentityFull(Connection c, TableRef t) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT r.relreplident = 'f' FROM pg_class r"
                + " JOIN pg_namespace n ON n.oid = r.relnamespace WHERE n.nspname = ? AND r.relname = ?")) {
            ps.setString(1, t.schema());
            ps.setString(2, t.name());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    Source source(String schema, String table) {
        for (Source s : projection.sources()) if (s.table().is(schema, table)) return s;
        return null;
    }

    Source sourceOfType(String canonicalType) {
        for (Source s : projection.sources()) if (s.canonicalType().equals(canonicalType)) return s;
        return null;
    }

    List<Dependency> dependencies(String schema, String table) {
        List<Dependency> out = new ArrayList<>(1);
        for (Dependency d : projection.dependencies()) if (d.table().is(schema, table)) out.add(d);
        return out;
    }

    /** Every table the projection's feed reads: sources, dependencies, and the target (to see manual edits). */
    String[] feedTables() {
        List<String> t = new ArrayList<>();
        for (Source s : projection.sources()) t.add(s.table().toString());
        for (Dependency d : projection.dependencies()) t.add(d.table().toString());
        if (!t.contains(projection.target().table().toString()) && !projection.sources().isEmpty()) {
            t.add(projection.target().table().toString());
        }
        return t.toArray(String[]::new);
    }
}
