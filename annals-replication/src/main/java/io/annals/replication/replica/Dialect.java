package io.annals.replication.replica;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.annals.changelog.Sql;
import io.annals.replication.wire.PythonText;
import io.annals.replication.wire.WireException;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The SQL a replica needs, per database: PostgreSQL ({@code INSERT ... ON CONFLICT}, values read
 * by the server itself from JSON with {@code jsonb_populate_record}, so every type it has works,
 * arrays and composites included) and MariaDB ({@code INSERT ... ON DUPLICATE KEY UPDATE}, values
 * bound by their column's JDBC type).
 */
abstract sealed class Dialect permits Dialect.Postgres, Dialect.MariaDb {

    /** A row's or a tombstone's ordering state. */
    record State(int revision, Instant updated) {
    }

    static Dialect of(Connection c) throws SQLException {
        String product = c.getMetaData().getDatabaseProductName().toLowerCase(java.util.Locale.ROOT);
        if (product.contains("postgres")) return new Postgres();
        if (product.contains("mariadb") || product.contains("mysql")) return new MariaDb();
        throw new io.annals.replication.ReplicationException("A replica runs on PostgreSQL or MariaDB, not on "
                + c.getMetaData().getDatabaseProductName());
    }

    abstract boolean postgres();

    abstract String quote(String identifier);

    String qualified(TableShape t) {
        String first = postgres() ? t.schema() : t.catalog();
        return (first == null ? "" : quote(first) + ".") + quote(t.name());
    }

    /** The row's state, locked for the transaction; null when there is no such row. */
    abstract State rowState(Connection c, TableShape t, Map<String, JsonNode> key) throws SQLException, PoisonException;

    /** Inserts or updates the row; {@code row} holds columns → values, the key columns among them. */
    abstract void upsert(Connection c, TableShape t, Map<String, JsonNode> row) throws SQLException, PoisonException;

    abstract int delete(Connection c, TableShape t, Map<String, JsonNode> key) throws SQLException, PoisonException;

    /** The type of a timestamp column that holds microseconds. */
    abstract String timestampType();

    /** The current time in SQL. */
    abstract String now();

    /** The upsert clause of a tombstone, which moves it forward. */
    abstract String tombstoneConflict();

    /** A timestamp to bind, for {@link #timestampType()}. */
    abstract Object timestamp(Instant t);

    void createTombstones(Connection c, String table) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS " + quote(table) + " (cqrs_id varchar(200) NOT NULL, pk varchar(500) NOT NULL,"
                    + " revision integer NOT NULL, updated " + timestampType() + " NOT NULL, deleted_at " + timestampType()
                    + " NOT NULL DEFAULT " + now() + ", PRIMARY KEY (cqrs_id, pk))");
        }
    }

    void saveTombstone(Connection c, String table, String cqrsId, String pk, State state) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + quote(table) + " (cqrs_id, pk, revision, updated, deleted_at)"
                + " VALUES (?, ?, ?, ?, " + now() + ") " + tombstoneConflict())) {
            ps.setString(1, cqrsId);
            ps.setString(2, pk);
            ps.setInt(3, state.revision());
            ps.setObject(4, timestamp(state.updated()));
            ps.executeUpdate();
        }
    }

    abstract int pruneTombstones(Connection c, String table, Duration age) throws SQLException;

    State tombstone(Connection c, String table, String cqrsId, String pk) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT revision, updated FROM " + quote(table)
                + " WHERE cqrs_id = ? AND pk = ? FOR UPDATE")) {
            ps.setString(1, cqrsId);
            ps.setString(2, pk);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? new State(rs.getInt(1), readInstant(rs, 2, true)) : null;
            }
        }
    }

    void dropTombstone(Connection c, String table, String cqrsId, String pk) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + quote(table) + " WHERE cqrs_id = ? AND pk = ?")) {
            ps.setString(1, cqrsId);
            ps.setString(2, pk);
            ps.executeUpdate();
        }
    }

    abstract Instant readInstant(ResultSet rs, int index, boolean withZone) throws SQLException;

    static boolean withZone(TableShape.Column c) {
        return c.jdbcType() == Types.TIMESTAMP_WITH_TIMEZONE || c.typeName().toLowerCase(java.util.Locale.ROOT).contains("tz")
                || c.typeName().toLowerCase(java.util.Locale.ROOT).contains("time zone");
    }

    // ---------------------------------------------------------------- PostgreSQL

    static final class Postgres extends Dialect {

        @Override
        boolean postgres() {
            return true;
        }

        @Override
        String quote(String identifier) {
            return Sql.identifier(identifier);
        }

        /** {@code (k1, k2) = (SELECT k1, k2 FROM jsonb_populate_record(NULL::t, ?::jsonb))}: the server converts the key. */
        private String keyMatch(TableShape t) {
            List<String> k = t.key().stream().map(this::quote).toList();
            return "(" + String.join(", ", k) + ") = (SELECT " + String.join(", ", k) + " FROM jsonb_populate_record(NULL::"
                    + qualified(t) + ", ?::jsonb))";
        }

        private static String json(Map<String, JsonNode> values) {
            ObjectNode o = JsonNodeFactory.instance.objectNode();
            values.forEach(o::set);
            return o.toString();
        }

        /**
         * Applies a SAVE or SYNC in one statement, so that without a handler a message costs one
         * round trip: the upsert happens unless a tombstone is as new or newer (and then removes
         * the tombstone); a SAVE updates an existing row only where it is newer. "Newer" is the row
         * comparison {@code (cqrs_updated, cqrs_revision) > (...)}, the rule {@link Applier#newer}
         * states in Java for MariaDB. Returns whether a row was written.
         */
        boolean upsertUnlessOlder(Connection c, TableShape t, Map<String, JsonNode> row, boolean sync, String tombstones, String cqrsId,
                                  String pk, State incoming) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement(upsertSql(t, row.keySet(), sync, tombstones))) {
                bindUpsert(ps, row, cqrsId, pk, incoming);
                return ps.executeUpdate() > 0;
            }
        }

        /**
         * The statement of {@link #upsertUnlessOlder}: its update count is the rows it wrote (0: the
         * message was older), so that a batch of them ({@code executeBatch}, one round trip) says
         * the same per message.
         */
        String upsertSql(TableShape t, java.util.Collection<String> columns, boolean sync, String tombstones) {
            List<String> cols = columns.stream().map(this::quote).toList();
            List<String> sets = new ArrayList<>();
            for (String col : columns) if (!t.key().contains(col)) sets.add(quote(col) + " = EXCLUDED." + quote(col));
            String tomb = quote(tombstones);
            String newerThanRow = sync ? "" : " WHERE (EXCLUDED.cqrs_updated, EXCLUDED.cqrs_revision) > (t.cqrs_updated, t.cqrs_revision)";
            return "WITH gone AS (DELETE FROM " + tomb + " WHERE cqrs_id = ? AND pk = ? AND (updated, revision) < (?, ?))"
                    + " INSERT INTO " + qualified(t) + " AS t (" + String.join(", ", cols) + ") SELECT " + String.join(", ", cols)
                    + " FROM jsonb_populate_record(NULL::" + qualified(t) + ", ?::jsonb) WHERE NOT EXISTS (SELECT 1 FROM " + tomb
                    + " WHERE cqrs_id = ? AND pk = ? AND (updated, revision) >= (?, ?)) ON CONFLICT ("
                    + String.join(", ", t.key().stream().map(this::quote).toList()) + ") DO UPDATE SET " + String.join(", ", sets)
                    + newerThanRow;
        }

        void bindUpsert(PreparedStatement ps, Map<String, JsonNode> row, String cqrsId, String pk, State incoming) throws SQLException {
            OffsetDateTime at = incoming.updated().atOffset(ZoneOffset.UTC);
            ps.setString(1, cqrsId);
            ps.setString(2, pk);
            ps.setObject(3, at);
            ps.setInt(4, incoming.revision());
            ps.setString(5, json(row));
            ps.setString(6, cqrsId);
            ps.setString(7, pk);
            ps.setObject(8, at);
            ps.setInt(9, incoming.revision());
        }

        /**
         * Applies a DELETE in one statement: deletes the row where the message is newer, and
         * keeps (or moves forward) the tombstone unless a row as new or newer stays. Returns
         * whether anything changed.
         */
        boolean deleteUnlessOlder(Connection c, TableShape t, Map<String, JsonNode> row, String tombstones, String cqrsId, String pk,
                                  State incoming) throws SQLException {
            String tomb = quote(tombstones);
            String in = "(SELECT cqrs_updated, cqrs_revision FROM jsonb_populate_record(NULL::" + qualified(t) + ", ?::jsonb))";
            String sql = "WITH removed AS (DELETE FROM " + qualified(t) + " WHERE " + keyMatch(t) + " AND (cqrs_updated, cqrs_revision) < "
                    + in + " RETURNING 1),"
                    + " kept AS (INSERT INTO " + tomb + " AS tb (cqrs_id, pk, revision, updated, deleted_at) SELECT ?, ?, ?, ?, now()"
                    + " WHERE NOT EXISTS (SELECT 1 FROM " + qualified(t) + " WHERE " + keyMatch(t) + " AND (cqrs_updated, cqrs_revision) >= "
                    + in + ") ON CONFLICT (cqrs_id, pk) DO UPDATE SET revision = EXCLUDED.revision, updated = EXCLUDED.updated,"
                    + " deleted_at = EXCLUDED.deleted_at WHERE (tb.updated, tb.revision) < (EXCLUDED.updated, EXCLUDED.revision)"
                    + " RETURNING 1) SELECT (SELECT count(*) FROM removed) + (SELECT count(*) FROM kept)";
            String json = json(row);
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                ps.setString(1, json);
                ps.setString(2, json);
                ps.setString(3, cqrsId);
                ps.setString(4, pk);
                ps.setInt(5, incoming.revision());
                ps.setObject(6, incoming.updated().atOffset(ZoneOffset.UTC));
                ps.setString(7, json);
                ps.setString(8, json);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getLong(1) > 0;
                }
            }
        }

        /**
         * Applies one round of a batch: messages of one table and one kind (all SAVEs, all SYNCs
         * or all DELETEs), each of a different row, with the rules of {@link #upsertUnlessOlder} and
         * {@link #deleteUnlessOlder} row by row, in one statement per set of columns. The values
         * travel as four arrays (tombstone key, revision, {@code cqrs_updated}, the row as JSON),
         * unnested and read by the server as the table's types. Returns how many messages changed
         * a row or a tombstone.
         */
        int applyRound(Connection c, List<Applier.Prepared> round, String tombstones) throws SQLException {
            Applier.Prepared first = round.get(0);
            TableShape t = first.table();
            Map<java.util.Set<String>, List<Map.Entry<Applier.Prepared, Map<String, JsonNode>>>> byColumns = new java.util.LinkedHashMap<>();
            for (Applier.Prepared p : round) {
                Map<String, JsonNode> row = p.delete() ? Applier.ordering(p.key(), p.message(), p.incoming().updated())
                        : Applier.row(t, p.message(), p.key(), p.incoming().updated());
                byColumns.computeIfAbsent(row.keySet(), k -> new ArrayList<>()).add(Map.entry(p, row));
            }
            int applied = 0;
            for (var group : byColumns.entrySet()) {
                List<Map.Entry<Applier.Prepared, Map<String, JsonNode>>> rows = group.getValue();
                int n = rows.size();
                Object[] pks = new Object[n];
                Object[] revisions = new Object[n];
                Object[] updated = new Object[n];
                Object[] docs = new Object[n];
                for (int i = 0; i < n; i++) {
                    Applier.Prepared p = rows.get(i).getKey();
                    pks[i] = p.pk();
                    revisions[i] = p.incoming().revision();
                    updated[i] = p.incoming().updated().toString();
                    docs[i] = json(rows.get(i).getValue());
                }
                String sql = first.delete() ? deleteRoundSql(t, tombstones) : upsertRoundSql(t, group.getKey(), first.sync(), tombstones);
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    ps.setArray(1, c.createArrayOf("text", pks));
                    ps.setArray(2, c.createArrayOf("int4", revisions));
                    ps.setArray(3, c.createArrayOf("text", updated));
                    ps.setArray(4, c.createArrayOf("text", docs));
                    ps.setString(5, first.message().cqrsId());
                    if (!first.delete()) ps.setString(6, first.message().cqrsId());
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        applied += rs.getInt(1);
                    }
                }
            }
            return applied;
        }

        /** The messages of a round as rows: {@code annals_pk, annals_rev, annals_upd} and the table's columns read from the JSON. */
        private String roundRows(TableShape t, java.util.Collection<String> columns) {
            return "m AS (SELECT k.annals_pk, k.annals_rev, k.annals_upd::timestamptz AS annals_upd, "
                    + String.join(", ", columns.stream().map(col -> "r." + quote(col)).toList())
                    + " FROM unnest(?::text[], ?::int4[], ?::text[], ?::text[]) AS k(annals_pk, annals_rev, annals_upd, annals_doc),"
                    + " LATERAL jsonb_populate_record(NULL::" + qualified(t) + ", k.annals_doc::jsonb) AS r)";
        }

        /** {@link #upsertSql} for a round: the count of rows written comes back as the one column of one row. */
        String upsertRoundSql(TableShape t, java.util.Collection<String> columns, boolean sync, String tombstones) {
            List<String> cols = columns.stream().map(this::quote).toList();
            List<String> sets = new ArrayList<>();
            for (String col : columns) if (!t.key().contains(col)) sets.add(quote(col) + " = EXCLUDED." + quote(col));
            String tomb = quote(tombstones);
            String newerThanRow = sync ? "" : " WHERE (EXCLUDED.cqrs_updated, EXCLUDED.cqrs_revision) > (t.cqrs_updated, t.cqrs_revision)";
            return "WITH " + roundRows(t, columns) + ","
                    + " gone AS (DELETE FROM " + tomb + " b USING m WHERE b.cqrs_id = ? AND b.pk = m.annals_pk"
                    + " AND (b.updated, b.revision) < (m.annals_upd, m.annals_rev)),"
                    + " written AS (INSERT INTO " + qualified(t) + " AS t (" + String.join(", ", cols) + ") SELECT "
                    + String.join(", ", cols.stream().map(col -> "m." + col).toList()) + " FROM m WHERE NOT EXISTS (SELECT 1 FROM " + tomb
                    + " b WHERE b.cqrs_id = ? AND b.pk = m.annals_pk AND (b.updated, b.revision) >= (m.annals_upd, m.annals_rev))"
                    + " ON CONFLICT (" + String.join(", ", t.key().stream().map(this::quote).toList()) + ") DO UPDATE SET "
                    + String.join(", ", sets) + newerThanRow + " RETURNING 1)"
                    + " SELECT count(*) FROM written";
        }

        /** {@link #deleteUnlessOlder} for a round: the count of messages that removed a row or kept a tombstone. */
        String deleteRoundSql(TableShape t, String tombstones) {
            List<String> columns = new ArrayList<>(t.key());
            columns.add(TableShape.REVISION);
            columns.add(TableShape.UPDATED);
            String keys = "(" + String.join(", ", t.key().stream().map(k -> "t." + quote(k)).toList()) + ") = ("
                    + String.join(", ", t.key().stream().map(k -> "m." + quote(k)).toList()) + ")";
            String tomb = quote(tombstones);
            return "WITH " + roundRows(t, columns) + ","
                    + " removed AS (DELETE FROM " + qualified(t) + " AS t USING m WHERE " + keys
                    + " AND (t.cqrs_updated, t.cqrs_revision) < (m.cqrs_updated, m.cqrs_revision) RETURNING m.annals_pk),"
                    + " kept AS (INSERT INTO " + tomb + " AS tb (cqrs_id, pk, revision, updated, deleted_at)"
                    + " SELECT ?, m.annals_pk, m.annals_rev, m.annals_upd, now() FROM m WHERE NOT EXISTS (SELECT 1 FROM " + qualified(t)
                    + " AS t WHERE " + keys + " AND (t.cqrs_updated, t.cqrs_revision) >= (m.cqrs_updated, m.cqrs_revision))"
                    + " ON CONFLICT (cqrs_id, pk) DO UPDATE SET revision = EXCLUDED.revision, updated = EXCLUDED.updated,"
                    + " deleted_at = EXCLUDED.deleted_at WHERE (tb.updated, tb.revision) < (EXCLUDED.updated, EXCLUDED.revision)"
                    + " RETURNING tb.pk)"
                    + " SELECT count(*) FROM (SELECT annals_pk FROM removed UNION SELECT pk FROM kept) x";
        }

        @Override
        State rowState(Connection c, TableShape t, Map<String, JsonNode> key) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement("SELECT cqrs_revision, cqrs_updated FROM " + qualified(t) + " WHERE "
                    + keyMatch(t) + " FOR UPDATE")) {
                ps.setString(1, json(key));
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) return null;
                    return new State(rs.getInt(1), readInstant(rs, 2, withZone(t.columns().get(TableShape.UPDATED))));
                }
            }
        }

        @Override
        void upsert(Connection c, TableShape t, Map<String, JsonNode> row) throws SQLException {
            List<String> cols = row.keySet().stream().map(this::quote).toList();
            List<String> sets = new ArrayList<>();
            for (String col : row.keySet()) if (!t.key().contains(col)) sets.add(quote(col) + " = EXCLUDED." + quote(col));
            String sql = "INSERT INTO " + qualified(t) + " (" + String.join(", ", cols) + ") SELECT " + String.join(", ", cols)
                    + " FROM jsonb_populate_record(NULL::" + qualified(t) + ", ?::jsonb) ON CONFLICT ("
                    + String.join(", ", t.key().stream().map(this::quote).toList()) + ") DO "
                    + (sets.isEmpty() ? "NOTHING" : "UPDATE SET " + String.join(", ", sets));
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                ps.setString(1, json(row));
                ps.executeUpdate();
            }
        }

        @Override
        int delete(Connection c, TableShape t, Map<String, JsonNode> key) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + qualified(t) + " WHERE " + keyMatch(t))) {
                ps.setString(1, json(key));
                return ps.executeUpdate();
            }
        }

        @Override
        String timestampType() {
            return "timestamptz";
        }

        @Override
        String now() {
            return "now()";
        }

        @Override
        String tombstoneConflict() {
            return "ON CONFLICT (cqrs_id, pk) DO UPDATE SET revision = EXCLUDED.revision, updated = EXCLUDED.updated,"
                    + " deleted_at = EXCLUDED.deleted_at";
        }

        @Override
        Object timestamp(Instant t) {
            return t.atOffset(ZoneOffset.UTC);
        }

        @Override
        int pruneTombstones(Connection c, String table, Duration age) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + quote(table) + " WHERE deleted_at < now() - make_interval(secs => ?)")) {
                ps.setDouble(1, age.toMillis() / 1000.0);
                return ps.executeUpdate();
            }
        }

        @Override
        Instant readInstant(ResultSet rs, int index, boolean withZone) throws SQLException {
            if (withZone) {
                OffsetDateTime t = rs.getObject(index, OffsetDateTime.class);
                return t == null ? Instant.EPOCH : t.toInstant();
            }
            LocalDateTime t = rs.getObject(index, LocalDateTime.class);
            return t == null ? Instant.EPOCH : t.toInstant(ZoneOffset.UTC);
        }
    }

    // ---------------------------------------------------------------- MariaDB

    static final class MariaDb extends Dialect {

        @Override
        boolean postgres() {
            return false;
        }

        @Override
        String quote(String identifier) {
            return "`" + identifier.replace("`", "``") + "`";
        }

        @Override
        State rowState(Connection c, TableShape t, Map<String, JsonNode> key) throws SQLException, PoisonException {
            List<String> where = t.key().stream().map(k -> quote(k) + " = ?").toList();
            try (PreparedStatement ps = c.prepareStatement("SELECT cqrs_revision, cqrs_updated FROM " + qualified(t) + " WHERE "
                    + String.join(" AND ", where) + " FOR UPDATE")) {
                int i = 1;
                for (String k : t.key()) bind(ps, i++, key.get(k), t.columns().get(k));
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) return null;
                    return new State(rs.getInt(1), readInstant(rs, 2, false));
                }
            }
        }

        @Override
        void upsert(Connection c, TableShape t, Map<String, JsonNode> row) throws SQLException, PoisonException {
            List<String> cols = new ArrayList<>(row.keySet());
            List<String> sets = new ArrayList<>();
            for (String col : cols) if (!t.key().contains(col)) sets.add(quote(col) + " = VALUES(" + quote(col) + ")");
            String sql = "INSERT " + (sets.isEmpty() ? "IGNORE " : "") + "INTO " + qualified(t) + " ("
                    + String.join(", ", cols.stream().map(this::quote).toList()) + ") VALUES ("
                    + String.join(", ", cols.stream().map(x -> "?").toList()) + ")"
                    + (sets.isEmpty() ? "" : " ON DUPLICATE KEY UPDATE " + String.join(", ", sets));
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                int i = 1;
                for (String col : cols) bind(ps, i++, row.get(col), t.columns().get(col));
                ps.executeUpdate();
            }
        }

        @Override
        int delete(Connection c, TableShape t, Map<String, JsonNode> key) throws SQLException, PoisonException {
            List<String> where = t.key().stream().map(k -> quote(k) + " = ?").toList();
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + qualified(t) + " WHERE " + String.join(" AND ", where))) {
                int i = 1;
                for (String k : t.key()) bind(ps, i++, key.get(k), t.columns().get(k));
                return ps.executeUpdate();
            }
        }

        @Override
        String timestampType() {
            return "datetime(6)"; // holds UTC: written and read so
        }

        @Override
        String now() {
            return "CURRENT_TIMESTAMP(6)";
        }

        @Override
        String tombstoneConflict() {
            return "ON DUPLICATE KEY UPDATE revision = VALUES(revision), updated = VALUES(updated), deleted_at = VALUES(deleted_at)";
        }

        @Override
        Object timestamp(Instant t) {
            return LocalDateTime.ofInstant(t, ZoneOffset.UTC);
        }

        @Override
        int pruneTombstones(Connection c, String table, Duration age) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + quote(table)
                    + " WHERE deleted_at < CURRENT_TIMESTAMP(6) - INTERVAL ? MICROSECOND")) {
                ps.setLong(1, age.toNanos() / 1000);
                return ps.executeUpdate();
            }
        }

        @Override
        Instant readInstant(ResultSet rs, int index, boolean withZone) throws SQLException {
            LocalDateTime t = rs.getObject(index, LocalDateTime.class);
            return t == null ? Instant.EPOCH : t.toInstant(ZoneOffset.UTC); // DATETIME holds UTC: we write it so
        }

        /** Binds a JSON value by its column's type; a value that does not fit is poison, named with field and type. */
        static void bind(PreparedStatement ps, int i, JsonNode v, TableShape.Column col) throws SQLException, PoisonException {
            if (v == null || v.isNull()) {
                ps.setNull(i, col.jdbcType());
                return;
            }
            try {
                switch (col.jdbcType()) {
                    case Types.BIT, Types.BOOLEAN -> {
                        if (v.isBoolean()) ps.setBoolean(i, v.booleanValue());
                        else if (v.isIntegralNumber()) ps.setBoolean(i, v.intValue() != 0);
                        else throw mismatch(v, col);
                    }
                    case Types.TINYINT, Types.SMALLINT, Types.INTEGER, Types.BIGINT -> {
                        if (v.isBoolean()) ps.setLong(i, v.booleanValue() ? 1 : 0);
                        else if (v.isIntegralNumber() && v.canConvertToLong()) ps.setLong(i, v.longValue());
                        else if (v.isTextual() && v.textValue().matches("-?\\d{1,18}")) ps.setLong(i, Long.parseLong(v.textValue()));
                        else throw mismatch(v, col);
                    }
                    case Types.DECIMAL, Types.NUMERIC, Types.REAL, Types.FLOAT, Types.DOUBLE -> {
                        if (v.isNumber()) ps.setBigDecimal(i, new BigDecimal(v.asText()));
                        else if (v.isTextual()) ps.setBigDecimal(i, new BigDecimal(v.textValue().trim()));
                        else throw mismatch(v, col);
                    }
                    case Types.DATE -> {
                        if (!v.isTextual()) throw mismatch(v, col);
                        String s = v.textValue();
                        ps.setObject(i, LocalDate.parse(s.length() > 10 ? s.substring(0, 10) : s));
                    }
                    case Types.TIME -> {
                        if (!v.isTextual()) throw mismatch(v, col);
                        ps.setObject(i, LocalTime.parse(v.textValue()));
                    }
                    case Types.TIMESTAMP, Types.TIMESTAMP_WITH_TIMEZONE -> {
                        if (!v.isTextual()) throw mismatch(v, col);
                        ps.setObject(i, LocalDateTime.ofInstant(PythonText.parseInstant(v.textValue()), ZoneOffset.UTC));
                    }
                    default -> ps.setString(i, v.isTextual() ? v.textValue() : v.toString());
                }
            } catch (NumberFormatException | DateTimeException | WireException e) {
                throw mismatch(v, col);
            }
        }

        private static PoisonException mismatch(JsonNode v, TableShape.Column col) {
            return new PoisonException("the value " + abbreviate(v.toString()) + " does not fit column " + col.name() + " ("
                    + col.typeName() + ")");
        }
    }

    static String abbreviate(String s) {
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }
}
