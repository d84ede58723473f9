package io.annals.history;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A revert being set up: which changes to undo, what to do on conflict, and where to write.
 * Immutable; {@link #plan()} reads the change log and returns the {@link RevertPlan} to review
 * and {@link RevertPlan#apply() apply}. Obtained from {@link AuditTrail#revertTransaction(long)},
 * {@link AuditTrail#revert(ChangeQuery)} or {@link AuditTrail#revertTable(String, Instant)}.
 *
 * <p>A conflict is a row changed again, after a change being reverted, by a change that is not
 * being reverted (or a TRUNCATE of its table). Planning finds them in the change log with two
 * probes of the per-row index per change; applying re-checks each row against the log with a
 * guard in its statement, which catches what the log did not hold yet.
 *
 * <pre>{@code
 * RevertPlan plan = trail.revertTable("orders", Instants.parse("2026-11-24 09:00"))
 *         .onConflict(ConflictPolicy.SKIP)
 *         .plan();
 * plan.apply();
 * }</pre>
 */
public final class Revert {

    /** Plans hold every step in memory; past this many changes a revert must be narrowed. */
    public static final int DEFAULT_MAX_CHANGES = 200_000;

    /** Reads and writes decimals exactly as stored (2.50 stays 2.50, never 1E+3 or 2.5). */
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonGenerator.Feature.WRITE_BIGDECIMAL_AS_PLAIN)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .configure(com.fasterxml.jackson.databind.cfg.JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES, false);

    private final AuditTrail trail;
    private final ChangeQuery.Spec spec;
    private final Map<String, Object> revertOf;
    private final ConflictPolicy policy;
    private final DataSource target;
    private final int maxChanges;

    Revert(AuditTrail trail, ChangeQuery.Spec spec, Map<String, Object> revertOf, ConflictPolicy policy,
           DataSource target, int maxChanges) {
        this.trail = trail;
        this.spec = spec;
        this.revertOf = Map.copyOf(revertOf);
        this.policy = policy;
        this.target = target;
        this.maxChanges = maxChanges;
    }

    /** This revert with {@code conflictPolicy} ({@link ConflictPolicy#FAIL} unless set). */
    public Revert onConflict(ConflictPolicy conflictPolicy) {
        return new Revert(trail, spec, revertOf, Objects.requireNonNull(conflictPolicy, "conflictPolicy"), target, maxChanges);
    }

    /**
     * This revert, writing to {@code source}: the database the changes were captured from. By
     * default the change log's own data source, which is right when the change log lives in the
     * source database (the default set-up).
     */
    public Revert writingTo(DataSource source) {
        return new Revert(trail, spec, revertOf, policy, Objects.requireNonNull(source, "source"), maxChanges);
    }

    /** This revert, refusing to plan more than {@code changes} changes (default {@value #DEFAULT_MAX_CHANGES}). */
    public Revert maxChanges(int changes) {
        if (changes < 1) throw new IllegalArgumentException("maxChanges must be at least 1, not " + changes);
        return new Revert(trail, spec, revertOf, policy, target, changes);
    }

    /**
     * Reads the changes to revert and the conflicts from the change log, and the tables' columns
     * from the source database, and returns the plan. Writes nothing.
     *
     * @throws HistoryException when nothing matches (nothing to revert), when more than
     *     {@link #maxChanges(int)} match, or when a table the changes touched no longer exists
     */
    public RevertPlan plan() {
        List<Object> params = new ArrayList<>();
        String filter = filter(params, "changes");
        String laterFilter = filter(new ArrayList<>(), "l");
        String truncateFilter = filter(new ArrayList<>(), "z");
        String sql = "SELECT " + AuditTrail.COLUMNS + ", prev_after::text, l_position, l_transaction_id, l_operation,"
                + " l_committed_at, tl_position, tr_position"
                + " FROM (SELECT * FROM annals.changes WHERE operation <> 'SNAPSHOT' AND " + filter + ") t"
                // The row's previous image, for old values a key-only before image lacks.
                + " LEFT JOIN LATERAL (SELECT p.after AS prev_after FROM annals.changes p"
                + " WHERE t.operation IN ('UPDATE', 'DELETE') AND p.\"schema\" = t.\"schema\" AND p.\"table\" = t.\"table\""
                + " AND p.primary_key = (SELECT jsonb_object_agg(k, t.before -> k) FROM jsonb_object_keys(t.primary_key) k)"
                + " AND p.position < t.position ORDER BY p.position DESC LIMIT 1) prev ON true"
                // The row's first later change that is not being reverted; for an UPDATE that changed
                // the key, also one that took the old key, which the revert must give back.
                + " LEFT JOIN LATERAL (SELECT l.position AS l_position, l.transaction_id AS l_transaction_id,"
                + " l.operation AS l_operation, l.committed_at AS l_committed_at FROM annals.changes l"
                + " WHERE t.primary_key IS NOT NULL AND l.\"schema\" = t.\"schema\" AND l.\"table\" = t.\"table\""
                + " AND l.primary_key IN (t.primary_key, CASE WHEN t.operation = 'UPDATE'"
                + " AND (t.before @> t.primary_key) IS NOT TRUE THEN (SELECT jsonb_object_agg(k, t.before -> k)"
                + " FROM jsonb_object_keys(t.primary_key) k) END)"
                + " AND l.position > t.position AND l.operation <> 'SNAPSHOT'"
                + " AND (" + laterFilter + ") IS NOT TRUE ORDER BY l.position LIMIT 1) later ON true"
                // For a TRUNCATE: any later change of its table that is not being reverted.
                + " LEFT JOIN LATERAL (SELECT min(l.position) AS tl_position FROM annals.changes l"
                + " WHERE t.operation = 'TRUNCATE' AND l.\"schema\" = t.\"schema\" AND l.\"table\" = t.\"table\""
                + " AND l.position > t.position AND l.operation <> 'SNAPSHOT' AND (" + laterFilter + ") IS NOT TRUE) tlater ON true"
                // A later TRUNCATE of the row's table that is not being reverted.
                + " LEFT JOIN LATERAL (SELECT min(z.position) AS tr_position FROM annals.changes z"
                + " WHERE t.primary_key IS NOT NULL AND z.\"schema\" = t.\"schema\" AND z.\"table\" = t.\"table\""
                + " AND z.primary_key IS NULL AND z.operation = 'TRUNCATE' AND z.position > t.position"
                + " AND (" + truncateFilter + ") IS NOT TRUE) trunc ON true"
                + " ORDER BY t.position DESC LIMIT ?";
        List<RevertPlan.Step> steps = new ArrayList<>();
        List<RevertPlan.Conflict> conflicts = new ArrayList<>();
        Map<TableName, Columns> catalog = new HashMap<>();
        int matched = 0;
        DataSource writeTo = target;
        try (Connection log = trail.connect()) {
            trail.checkTables(log, spec.tables());
            try (Connection source = writeTo == null ? null : writeTo.getConnection();
                 PreparedStatement ps = log.prepareStatement(sql)) {
                Connection catalogConnection = source == null ? log : source;
                int n = 1;
                for (int copy = 0; copy < 4; copy++) {
                    for (Object p : params) n = bind(ps, n, p);
                }
                ps.setInt(n, maxChanges + 1);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        if (++matched > maxChanges) {
                            throw new HistoryException("More than " + maxChanges + " changes match " + RevertPlan.toJson(revertOf)
                                    + ": narrow the selection, or raise the limit with maxChanges(n) (a plan holds"
                                    + " every statement in memory).");
                        }
                        Change change = trail.readChange(rs);
                        TableName table = new TableName(change.schema(), change.table());
                        Columns columns = catalog.get(table);
                        if (columns == null) {
                            columns = Columns.read(catalogConnection, table);
                            catalog.put(table, columns);
                        }
                        plan(change, rs, columns, steps, conflicts);
                    }
                }
            }
        } catch (SQLException e) {
            throw AuditTrail.failure("plan the revert of " + RevertPlan.toJson(revertOf), e);
        }
        if (matched == 0) {
            throw new HistoryException("Nothing to revert: no change in the change log matches " + RevertPlan.toJson(revertOf)
                    + ". Nothing was written. (Check the selection with 'annals history' or trail.changes();"
                    + " the change log may also not have caught up yet.)");
        }
        return new RevertPlan(writeTo == null ? trail.dataSource() : writeTo, policy, revertOf, matched, steps, conflicts);
    }

    /** The selection as one SQL condition over the change row aliased {@code alias}. */
    private String filter(List<Object> params, String alias) {
        List<String> conditions = ChangeQuery.conditions(spec, params, alias);
        return conditions.isEmpty() ? "true" : String.join(" AND ", conditions);
    }

    private void plan(Change c, ResultSet rs, Columns columns, List<RevertPlan.Step> steps,
                      List<RevertPlan.Conflict> conflicts) throws SQLException {
        RevertPlan.ChangeRef ref = new RevertPlan.ChangeRef(c.position(), c.transactionId(), c.committedAt(),
                c.operation(), c.qualifiedTable(), c.primaryKey());
        String later = rs.getString(15);
        String laterTruncate = rs.getString(20);
        String tableLater = rs.getString(19);
        RevertPlan.Conflict conflict = null;
        if (later != null && (laterTruncate == null || later.compareTo(laterTruncate) < 0)) {
            conflict = new RevertPlan.Conflict(RevertPlan.ConflictKind.CHANGED_LATER, ref, "the row was changed again by "
                    + rs.getString(17) + " at " + later + " (tx " + rs.getLong(16) + ", "
                    + rs.getObject(18, OffsetDateTime.class).toInstant() + "), which is not being reverted");
        } else if (laterTruncate != null) {
            conflict = new RevertPlan.Conflict(RevertPlan.ConflictKind.TRUNCATED_LATER, ref, "the table was truncated at "
                    + laterTruncate + ", which is not being reverted");
        } else if (tableLater != null) {
            conflict = new RevertPlan.Conflict(RevertPlan.ConflictKind.CHANGED_LATER, ref, "the table was changed again at "
                    + tableLater + ", by a change that is not being reverted");
        }
        String sql;
        long expectedRows = 1;
        boolean force = policy == ConflictPolicy.FORCE;
        boolean guard = !force;
        TableName table = new TableName(c.schema(), c.table());
        String t = Materialization.sql(table);
        switch (c.operation()) {
            case CREATE -> {
                ObjectNode expected = (ObjectNode) c.after();
                sql = "DELETE FROM " + t + " AS t USING " + record(t, expected) + " AS e WHERE " + keyMatch(c.primaryKey())
                        + (guard ? " AND " + rowMatch(columns.comparable(expected)) : "");
            }
            case UPDATE -> {
                ObjectNode old = oldImage(c, rs.getString(14));
                List<String> set = new ArrayList<>();
                List<String> unknown = new ArrayList<>();
                for (String column : c.changedColumns() == null ? List.<String>of() : c.changedColumns()) {
                    if (!columns.writable(column)) continue;
                    if (old == null || !old.has(column)) unknown.add(column);
                    else set.add(column);
                }
                if (!unknown.isEmpty()) {
                    conflicts.add(new RevertPlan.Conflict(RevertPlan.ConflictKind.OLD_VALUE_UNKNOWN, ref,
                            "the old value of " + String.join(", ", unknown) + " is not in the change log (the table"
                                    + " logs only its key on UPDATE, REPLICA IDENTITY DEFAULT, and the log holds no earlier"
                                    + " image of the row)"));
                    return;
                }
                if (set.isEmpty()) return; // nothing it changed is still a writable column: nothing to undo
                ObjectNode oldValues = JSON.createObjectNode();
                for (String column : set) oldValues.set(column, old.get(column));
                ObjectNode expected = ((ObjectNode) c.primaryKey()).deepCopy();
                for (String column : set) {
                    if (c.after() != null && c.after().has(column)) expected.set(column, c.after().get(column));
                }
                StringBuilder s = new StringBuilder("UPDATE ").append(t).append(" AS t SET ");
                for (int i = 0; i < set.size(); i++) {
                    if (i > 0) s.append(", ");
                    s.append(Materialization.quote(set.get(i))).append(" = o.").append(Materialization.quote(set.get(i)));
                }
                s.append(" FROM ").append(record(t, oldValues)).append(" AS o, ").append(record(t, expected))
                        .append(" AS e WHERE ").append(keyMatch(c.primaryKey()));
                if (guard) s.append(" AND ").append(rowMatch(columns.comparable(expected)));
                sql = s.toString();
            }
            case DELETE -> {
                ObjectNode old = oldImage(c, rs.getString(14));
                if (old == null || !columns.complete(old, c.primaryKey())) {
                    conflicts.add(new RevertPlan.Conflict(RevertPlan.ConflictKind.OLD_VALUE_UNKNOWN, ref,
                            "the deleted row's values are not in the change log (only its key was logged, REPLICA"
                                    + " IDENTITY DEFAULT, and the log holds no earlier image of the row)"));
                    return;
                }
                List<String> insert = columns.writableOf(old);
                sql = "INSERT INTO " + t + " (" + list("", insert) + ") OVERRIDING SYSTEM VALUE SELECT " + list("o.", insert)
                        + " FROM " + record(t, old) + " AS o" + onConflict(force, c.primaryKey(), insert);
            }
            case TRUNCATE -> {
                String before = rs.getString(2); // this change's position; the rows just before it are restored
                Long rows = truncatedRows(rs.getStatement().getConnection(), table, Position.parse(before));
                if (rows == null) {
                    conflicts.add(new RevertPlan.Conflict(RevertPlan.ConflictKind.OLD_VALUE_UNKNOWN, ref,
                            "the table has no primary key, so the change log cannot tell which rows the TRUNCATE removed"));
                    return;
                }
                List<String> insert = columns.writable();
                sql = "INSERT INTO " + t + " (" + list("", insert) + ") OVERRIDING SYSTEM VALUE SELECT " + list("r.", insert)
                        + " FROM (" + inline(AsOf.LIVE_IMAGES_SQL, table, previousPosition(rs.getStatement().getConnection(), before))
                        + ") live, LATERAL jsonb_populate_record(NULL::" + t + ", live.after) r ON CONFLICT DO NOTHING";
                expectedRows = rows;
            }
            default -> throw new IllegalStateException("Unexpected operation " + c.operation());
        }
        if (conflict != null) {
            conflicts.add(conflict);
            if (policy == ConflictPolicy.SKIP) return;
        }
        steps.add(new RevertPlan.Step(ref, sql, expectedRows));
    }

    /**
     * The row's values before the change: its before image, completed from the row's previous image
     * in the log where the before image holds only the key.
     */
    private static ObjectNode oldImage(Change c, String previousAfter) {
        ObjectNode old = null;
        if (previousAfter != null) {
            try {
                old = (ObjectNode) JSON.readTree(previousAfter);
            } catch (JsonProcessingException e) {
                throw new HistoryException("The change log holds invalid JSON: " + e.getOriginalMessage(), e);
            }
        }
        JsonNode before = c.before();
        if (before instanceof ObjectNode b) {
            if (old == null) old = b.deepCopy();
            else old.setAll(b);
        }
        return old;
    }

    /** How many rows the table held just before {@code truncate}, or null when it has no key to tell them apart. */
    private static Long truncatedRows(Connection log, TableName table, Position truncate) throws SQLException {
        try (PreparedStatement ps = log.prepareStatement("SELECT EXISTS (SELECT 1 FROM annals.changes WHERE \"schema\" = ?"
                + " AND \"table\" = ? AND primary_key IS NULL AND operation <> 'TRUNCATE' AND position < ?)")) {
            ps.setString(1, table.schema());
            ps.setString(2, table.table());
            ps.setString(3, truncate.toString());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (rs.getBoolean(1)) return null;
            }
        }
        try (PreparedStatement ps = log.prepareStatement("SELECT count(*) FROM (" + AsOf.LIVE_IMAGES_SQL + ") live")) {
            AsOf.bindLiveImages(ps, table, previousPosition(log, truncate.toString()));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private static String previousPosition(Connection log, String position) throws SQLException {
        try (PreparedStatement ps = log.prepareStatement(
                "SELECT position FROM annals.changes WHERE position < ? ORDER BY position DESC LIMIT 1")) {
            ps.setString(1, position);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : "";
            }
        }
    }

    /** {@code sql} ({@link AsOf#LIVE_IMAGES_SQL}) with its parameters inlined as literals. */
    private static String inline(String sql, TableName table, String cut) {
        String[] values = AsOf.liveImagesParameters(table, cut);
        StringBuilder out = new StringBuilder();
        int v = 0;
        for (int i = 0; i < sql.length(); i++) {
            char ch = sql.charAt(i);
            if (ch == '?') out.append(literal(values[v++]));
            else out.append(ch);
        }
        return out.toString();
    }

    private static String record(String table, JsonNode image) {
        return "jsonb_populate_record(NULL::" + table + ", " + literal(write(image)) + ")";
    }

    private static String keyMatch(JsonNode primaryKey) {
        List<String> out = new ArrayList<>();
        for (Iterator<String> it = primaryKey.fieldNames(); it.hasNext(); ) {
            String q = Materialization.quote(it.next());
            out.add("t." + q + " = e." + q);
        }
        return String.join(" AND ", out);
    }

    /**
     * True when the row holds the expected values, compared as {@code to_jsonb} renders them in
     * this session on both sides: exact for every type, and blind to time zones and numeric scale.
     */
    private static String rowMatch(List<String> columns) {
        if (columns.isEmpty()) return "true";
        return "to_jsonb(ROW(" + list("t.", columns) + ")) = to_jsonb(ROW(" + list("e.", columns) + "))";
    }

    private static String onConflict(boolean force, JsonNode primaryKey, List<String> insert) {
        if (!force) return " ON CONFLICT DO NOTHING";
        Set<String> keys = new LinkedHashSet<>();
        primaryKey.fieldNames().forEachRemaining(keys::add);
        List<String> others = insert.stream().filter(c -> !keys.contains(c)).toList();
        if (others.isEmpty()) return " ON CONFLICT DO NOTHING";
        StringBuilder s = new StringBuilder(" ON CONFLICT (").append(list("", List.copyOf(keys))).append(") DO UPDATE SET ");
        for (int i = 0; i < others.size(); i++) {
            if (i > 0) s.append(", ");
            String q = Materialization.quote(others.get(i));
            s.append(q).append(" = EXCLUDED.").append(q);
        }
        return s.toString();
    }

    private static String list(String prefix, List<String> columns) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < columns.size(); i++) {
            if (i > 0) s.append(", ");
            s.append(prefix).append(Materialization.quote(columns.get(i)));
        }
        return s.toString();
    }

    /** A standard SQL string literal (the plan sets {@code standard_conforming_strings} on). */
    static String literal(String text) {
        return "'" + text.replace("'", "''") + "'";
    }

    private static String write(JsonNode node) {
        try {
            return JSON.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int bind(PreparedStatement ps, int n, Object p) throws SQLException {
        if (p instanceof String s) ps.setString(n, s);
        else if (p instanceof Long l) ps.setLong(n, l);
        else if (p instanceof OffsetDateTime t) ps.setObject(n, t);
        else if (p instanceof Timestamp t) ps.setTimestamp(n, t);
        else ps.setObject(n, p);
        return n + 1;
    }

    /** The live columns of a source table: which exist, and which can be written (not generated). */
    private record Columns(TableName table, Map<String, Boolean> generatedByName) {

        static Columns read(Connection c, TableName table) throws SQLException {
            Map<String, Boolean> columns = new LinkedHashMap<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT a.attname, a.attgenerated <> ''"
                    + " FROM pg_catalog.pg_attribute a WHERE a.attrelid = to_regclass(quote_ident(?) || '.' || quote_ident(?))"
                    + " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum")) {
                ps.setString(1, table.schema());
                ps.setString(2, table.table());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) columns.put(rs.getString(1), rs.getBoolean(2));
                }
            }
            if (columns.isEmpty()) {
                throw new HistoryException("Cannot revert changes of " + table + ": the table no longer exists in the"
                        + " database (it was dropped or renamed after the changes). Nothing was written. Re-create it,"
                        + " or leave its changes out of the revert.");
            }
            return new Columns(table, columns);
        }

        boolean writable(String column) {
            return Boolean.FALSE.equals(generatedByName.get(column));
        }

        List<String> writable() {
            return generatedByName.entrySet().stream().filter(e -> !e.getValue()).map(Map.Entry::getKey).toList();
        }

        /** The columns of {@code image} that still exist and can be written, in table order. */
        List<String> writableOf(JsonNode image) {
            return writable().stream().filter(image::has).toList();
        }

        /** The columns of {@code image} that still exist and are not generated: those a guard compares. */
        List<String> comparable(JsonNode image) {
            return writableOf(image);
        }

        /** Whether {@code image} holds more than the key, or the table has nothing but its key. */
        boolean complete(JsonNode image, JsonNode primaryKey) {
            for (String column : writable()) {
                if (!primaryKey.has(column) && image.has(column)) return true;
            }
            return writable().stream().allMatch(primaryKey::has);
        }
    }

    @Override
    public String toString() {
        return "Revert[" + revertOf + ", " + policy + "]";
    }

    static Map<String, Object> describe(ChangeQuery.Spec s) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (!s.tables().isEmpty()) out.put("tables", s.tables().stream().map(TableName::toString).toList());
        if (s.primaryKey() != null) out.put("primary_key", s.primaryKey());
        if (!s.operations().isEmpty()) out.put("operations", s.operations().stream().map(Operation::name).toList());
        if (s.since() != null) out.put("since", s.since().toString());
        if (s.until() != null) out.put("until", s.until().toString());
        if (s.after() != null) out.put("after", s.after().toString());
        if (s.before() != null) out.put("before", s.before().toString());
        if (s.transaction() != null) out.put("transaction_id", s.transaction());
        if (!s.contexts().isEmpty()) {
            List<JsonNode> contexts = new ArrayList<>();
            for (String context : s.contexts()) {
                try {
                    contexts.add(JSON.readTree(context));
                } catch (JsonProcessingException e) {
                    throw new IllegalStateException(e);
                }
            }
            out.put("context", contexts.size() == 1 ? contexts.get(0) : contexts);
        }
        if (!s.changedColumns().isEmpty()) out.put("changed_columns", s.changedColumns());
        if (!s.predicates().isEmpty()) {
            out.put("where", s.predicates().stream()
                    .map(p -> p.image().name().toLowerCase() + "." + p.column() + " " + p.operator() + " " + p.json()).toList());
        }
        return out;
    }
}
