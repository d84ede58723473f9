package io.annals.history.timetravel;

import io.annals.changelog.Position;
import io.annals.changelog.Sql;
import io.annals.history.HistoryException;
import io.annals.history.internal.ChangeLogReader;
import io.annals.history.internal.LiveImages;
import io.annals.history.internal.TableName;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Tables as they stood at one cut of the change log, written into a schema of the change log's
 * database as plain tables, so that the past can be queried, joined and exported with plain SQL.
 * Obtained from {@link AsOf#materialize(String...)} or {@link AsOf#materializeAll()}.
 *
 * <p>Every table is written at the same cut and in one transaction: the copies are consistent
 * with one another (a foreign key that held then holds between the copies), and a failure leaves
 * nothing behind. Rows are replayed server-side ({@code jsonb_populate_record} over the as-of
 * images, one {@code INSERT ... SELECT} per table), so nothing passes through the JVM and memory
 * stays flat whatever the size of the tables.
 *
 * <p>A copy has the live table's current columns, defaults, identity and generated columns
 * ({@code CREATE TABLE ... (LIKE ...)}) and its primary key, added after the rows. Historic values
 * of a column dropped since are left out; a column added since is NULL (or its generated value).
 * A table that no longer exists is rebuilt from its images alone: one column per key of the
 * images, typed from the JSON (numeric, text, boolean or jsonb).
 *
 * <pre>{@code
 * Materialization.Result copies = trail.asOf(Instants.parse("2026-11-01"))
 *         .materialize("public.orders", "public.customers")
 *         .into("as_of_nov_1");
 * // SELECT count(*) FROM as_of_nov_1.orders JOIN as_of_nov_1.customers ON ...
 * }</pre>
 */
public final class Materialization {

    /** What was written: the cut, each copy with its row count, and each table left out with why. */
    public record Result(Position position, List<Copy> copies, Map<String, String> skipped) {
        public Result {
            copies = List.copyOf(copies);
            skipped = Map.copyOf(skipped);
        }

        /** Rows written over all copies. */
        public long rows() {
            return copies.stream().mapToLong(Copy::rows).sum();
        }
    }

    /** One table written: its source name, the copy's name, and how many rows it holds. */
    public record Copy(String source, String target, long rows) {
    }

    private final AsOf asOf;
    private final ChangeLogReader log;
    private final List<TableName> tables; // empty: every table of the log
    private final boolean replace;

    Materialization(AsOf asOf, ChangeLogReader log, List<TableName> tables, boolean replace) {
        this.asOf = asOf;
        this.log = log;
        this.tables = List.copyOf(tables);
        this.replace = replace;
    }

    /**
     * This materialization, dropping a table of the same name in the target schema first instead
     * of failing on it.
     */
    public Materialization replacingExisting() {
        return new Materialization(asOf, log, tables, true);
    }

    /**
     * Writes the copies into {@code schema} (created if missing) and returns what was written. The
     * schema must not be one the tables come from, nor {@code annals}.
     *
     * @throws HistoryException for an unknown table, a cut before a table's log begins, a table
     *         without primary key that was named explicitly, or an existing copy
     */
    public Result into(String schema) {
        if (schema == null || schema.isBlank()) {
            throw new IllegalArgumentException("A target schema is required, e.g. into(\"as_of_2026_11_01\")");
        }
        Position cut = asOf.position().orElse(null);
        try (Connection c = log.connect()) {
            return Sql.inTransaction(c, tx -> write(tx, schema, cut));
        } catch (SQLException e) {
            throw ChangeLogReader.failure("materialize " + describeTables() + " as of " + asOf + " into schema " + schema, e);
        }
    }

    private Result write(Connection c, String schema, Position cut) throws SQLException {
        if (schema.equals("annals")) {
            throw new HistoryException("Cannot materialize into schema annals: it holds the change log. Choose another"
                    + " schema, e.g. as_of_2026_11_01.");
        }
        List<TableName> selected = new ArrayList<>();
        Map<String, String> skipped = new LinkedHashMap<>();
        if (tables.isEmpty()) {
            for (TableName t : loggedTables(c)) {
                try {
                    asOf.check(c, t);
                    selected.add(t);
                } catch (HistoryException e) {
                    skipped.put(t.toString(), e.getMessage());
                }
            }
            if (selected.isEmpty()) {
                throw new HistoryException("Nothing to materialize as of " + asOf.describeCut() + ": no table of the"
                        + " change log can be read at that cut" + (skipped.isEmpty() ? " (the log is empty)"
                        : " (" + String.join("; ", skipped.values()) + ")"));
            }
        } else {
            for (TableName t : tables) {
                asOf.check(c, t);
                selected.add(t);
            }
        }
        for (TableName t : selected) {
            if (t.schema().equals(schema)) {
                throw new HistoryException("Cannot materialize " + t + " into schema " + schema + ": the copy would"
                        + " replace the live table. Choose another schema.");
            }
        }
        try (Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA IF NOT EXISTS " + Sql.identifier(schema));
            // One ordered pass over the per-row index per table rather than hashing it (see AsOf#table).
            s.execute("SET LOCAL enable_hashagg = off");
            // The changes after a keyframe are grouped by key in memory up to this much (see AsOf#table).
            s.execute("SET LOCAL work_mem = '" + LiveImages.WORK_MEM + "'");
        }
        List<Copy> copies = new ArrayList<>();
        for (TableName t : selected) {
            TableName target = new TableName(schema, t.table());
            if (exists(c, target)) {
                if (!replace) {
                    throw new HistoryException("Table " + target + " already exists: drop it, choose another schema, or"
                            + " replace it (replacingExisting(), or --replace on the command line).");
                }
                try (Statement s = c.createStatement()) {
                    s.execute("DROP TABLE " + target.sql());
                }
            }
            copies.add(new Copy(t.toString(), target.toString(), copy(c, t, target, cut)));
        }
        return new Result(cut, copies, skipped);
    }

    private long copy(Connection c, TableName source, TableName target, Position cut) throws SQLException {
        List<String> keyColumns = keyColumns(c, source, cut);
        if (exists(c, source)) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE " + target.sql() + " (LIKE " + source.sql()
                        + " INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED)");
            }
        } else {
            createFromImages(c, source, target, cut);
        }
        List<String> columns = insertableColumns(c, target);
        String list = String.join(", ", columns.stream().map(Sql::identifier).toList());
        String values = String.join(", ", columns.stream().map(col -> "r." + Sql.identifier(col)).toList());
        long rows;
        LiveImages.Query live = asOf.liveImages(c, source, false);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + target.sql() + " (" + list + ")"
                + " OVERRIDING SYSTEM VALUE SELECT " + values + " FROM (" + live.sql() + ") live,"
                + " LATERAL jsonb_populate_record(NULL::" + target.sql() + ", live.after) r")) {
            live.bind(ps, 1);
            rows = ps.executeLargeUpdate();
        }
        if (!keyColumns.isEmpty()) {
            try (Statement s = c.createStatement()) {
                s.execute("ALTER TABLE " + target.sql() + " ADD PRIMARY KEY ("
                        + String.join(", ", keyColumns.stream().map(Sql::identifier).toList()) + ")");
            }
        }
        return rows;
    }

    /** A table that no longer exists, rebuilt from its images: a column per key, typed from the JSON. */
    private void createFromImages(Connection c, TableName source, TableName target, Position cut) throws SQLException {
        List<String> definitions = new ArrayList<>();
        LiveImages.Query live = asOf.liveImages(c, source, false);
        try (PreparedStatement ps = c.prepareStatement("SELECT e.key, CASE"
                + " WHEN bool_and(jsonb_typeof(e.value) IN ('number', 'null')) AND bool_or(jsonb_typeof(e.value) = 'number') THEN 'numeric'"
                + " WHEN bool_and(jsonb_typeof(e.value) IN ('boolean', 'null')) AND bool_or(jsonb_typeof(e.value) = 'boolean') THEN 'boolean'"
                + " WHEN bool_and(jsonb_typeof(e.value) IN ('string', 'null')) THEN 'text'"
                + " ELSE 'jsonb' END"
                + " FROM (" + live.sql() + ") live, LATERAL jsonb_each(live.after) e"
                + " GROUP BY e.key ORDER BY min(live.primary_key::text), e.key")) {
            live.bind(ps, 1);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) definitions.add(Sql.identifier(rs.getString(1)) + " " + rs.getString(2));
            }
        }
        for (String key : keyColumns(c, source, cut)) {
            String column = Sql.identifier(key);
            if (definitions.stream().noneMatch(d -> d.startsWith(column + " "))) definitions.add(column + " text");
        }
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE " + target.sql() + " (" + String.join(", ", definitions) + ")");
        }
    }

    /** The key columns, from the keys of the table's change log (in the order the key lists them). */
    private static List<String> keyColumns(Connection c, TableName t, Position cut) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT k FROM (SELECT primary_key FROM annals.changes"
                + " WHERE \"schema\" = ? AND \"table\" = ? AND primary_key IS NOT NULL AND position <= ?"
                + " ORDER BY position DESC LIMIT 1) x, LATERAL jsonb_object_keys(x.primary_key) k")) {
            ps.setString(1, t.schema());
            ps.setString(2, t.table());
            ps.setString(3, cut.toString());
            List<String> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(rs.getString(1));
            }
            return out;
        }
    }

    private static List<String> insertableColumns(Connection c, TableName t) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT a.attname FROM pg_catalog.pg_attribute a"
                + " WHERE a.attrelid = (quote_ident(?) || '.' || quote_ident(?))::regclass AND a.attnum > 0"
                + " AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum")) {
            ps.setString(1, t.schema());
            ps.setString(2, t.table());
            List<String> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(rs.getString(1));
            }
            return out;
        }
    }

    /** Every table with changes in the log, by a skip scan of the per-row index (one probe per table). */
    static List<TableName> loggedTables(Connection c) throws SQLException {
        List<TableName> out = new ArrayList<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("WITH RECURSIVE t(s, n) AS ("
                + " (SELECT \"schema\", \"table\" FROM annals.changes ORDER BY \"schema\", \"table\" LIMIT 1)"
                + " UNION ALL SELECT x.s, x.n FROM t, LATERAL (SELECT \"schema\" AS s, \"table\" AS n FROM annals.changes"
                + " WHERE (\"schema\", \"table\") > (t.s, t.n) ORDER BY \"schema\", \"table\" LIMIT 1) x)"
                + " SELECT s, n FROM t")) {
            while (rs.next()) out.add(new TableName(rs.getString(1), rs.getString(2)));
        }
        return out;
    }

    private static boolean exists(Connection c, TableName t) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT to_regclass(quote_ident(?) || '.' || quote_ident(?)) IS NOT NULL")) {
            ps.setString(1, t.schema());
            ps.setString(2, t.table());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }

    private String describeTables() {
        return tables.isEmpty() ? "every table" : tables.stream().map(TableName::toString).toList().toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Materialization m && asOf.equals(m.asOf) && tables.equals(m.tables) && replace == m.replace;
    }

    @Override
    public int hashCode() {
        return Objects.hash(asOf, tables, replace);
    }

    @Override
    public String toString() {
        return "Materialization[" + describeTables() + " as of " + asOf + (replace ? ", replacing existing" : "") + "]";
    }
}
