package io.annals.history.revert;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.annals.changelog.Operation;
import io.annals.changelog.Json;
import io.annals.changelog.Sql;
import io.annals.history.AuditTrail;
import io.annals.history.Change;
import io.annals.history.ChangeQuery;
import io.annals.history.HistoryException;
import io.annals.history.internal.ChangeLogReader;
import io.annals.history.internal.LiveImages;
import io.annals.history.internal.Makers;
import io.annals.history.internal.QuerySpec;
import io.annals.history.internal.TableName;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
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
    /** The JSON a plan may carry for TRUNCATEs restored into another database than the change log's. */
    static final long MAX_CARRIED_BYTES = 64L << 20;

    /** Reads and writes decimals exactly as stored (2.50 stays 2.50, never 1E+3 or 2.5). */
    private static final ObjectMapper JSON = Json.mapper();

    static {
        // AuditTrail makes reverts through Makers: a constructor it could call would have to be public API.
        Makers.register((ChangeLogReader log, QuerySpec spec) -> new Revert(log, spec, describe(spec), ConflictPolicy.FAIL, null,
                DEFAULT_MAX_CHANGES, MAX_CARRIED_BYTES));
    }

    private final ChangeLogReader changeLog;
    private final QuerySpec spec;
    private final Map<String, Object> revertOf;
    private final ConflictPolicy policy;
    private final DataSource target;
    private final int maxChanges;
    private final long maxCarriedBytes;

    private Revert(ChangeLogReader changeLog, QuerySpec spec, Map<String, Object> revertOf, ConflictPolicy policy,
                   DataSource target, int maxChanges, long maxCarriedBytes) {
        this.changeLog = changeLog;
        this.spec = spec;
        this.revertOf = Map.copyOf(revertOf);
        this.policy = policy;
        this.target = target;
        this.maxChanges = maxChanges;
        this.maxCarriedBytes = maxCarriedBytes;
    }

    /** This revert with {@code conflictPolicy} ({@link ConflictPolicy#FAIL} unless set). */
    public Revert onConflict(ConflictPolicy conflictPolicy) {
        return new Revert(changeLog, spec, revertOf, Objects.requireNonNull(conflictPolicy, "conflictPolicy"), target, maxChanges,
                maxCarriedBytes);
    }

    /**
     * This revert, writing to {@code source}: the database the changes were captured from. By
     * default the change log's own data source, which is right when the change log lives in the
     * source database (the default set-up).
     */
    public Revert writingTo(DataSource source) {
        return new Revert(changeLog, spec, revertOf, policy, Objects.requireNonNull(source, "source"), maxChanges, maxCarriedBytes);
    }

    /** This revert, refusing to plan more than {@code changes} changes (default {@value #DEFAULT_MAX_CHANGES}). */
    public Revert maxChanges(int changes) {
        if (changes < 1) throw new IllegalArgumentException("maxChanges must be at least 1, not " + changes);
        return new Revert(changeLog, spec, revertOf, policy, target, changes, maxCarriedBytes);
    }

    /** This revert, carrying at most {@code bytes} of TRUNCATEd rows' JSON in its plan (see {@link #MAX_CARRIED_BYTES}): for tests. */
    Revert maxCarriedBytes(long bytes) {
        return new Revert(changeLog, spec, revertOf, policy, target, maxChanges, bytes);
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
        String sql = "SELECT " + ChangeLogReader.COLUMNS + ", prev_after::text AS prev_after, prev_withheld, l_position,"
                + " l_transaction_id, l_operation, l_committed_at, tl_position, tr_position"
                + " FROM (SELECT * FROM annals.changes WHERE operation <> 'SNAPSHOT' AND " + filter + ") t"
                // The row's previous image, for old values a key-only before image lacks.
                + " LEFT JOIN LATERAL (SELECT p.after AS prev_after, p.withheld AS prev_withheld FROM annals.changes p"
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
        Map<TableName, Columns> catalog = new HashMap<>();
        int matched = 0;
        DataSource writeTo = target;
        Planner planned;
        try (Connection log = changeLog.connect()) {
            changeLog.checkTables(log, spec.tables());
            try (Connection source = writeTo == null ? null : writeTo.getConnection();
                 PreparedStatement ps = log.prepareStatement(sql)) {
                Connection catalogConnection = source == null ? log : source;
                Planner planner = new Planner(source == null || (sameDatabase(log, source) && canReadTheLog(source)));
                planned = planner;
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
                        Change change = changeLog.readChange(rs);
                        TableName table = new TableName(change.schema(), change.table());
                        Columns columns = catalog.get(table);
                        if (columns == null) {
                            columns = Columns.read(catalogConnection, table);
                            catalog.put(table, columns);
                        }
                        planner.plan(change, rs, log, columns);
                    }
                }
            }
        } catch (SQLException e) {
            throw ChangeLogReader.failure("plan the revert of " + RevertPlan.toJson(revertOf), e);
        }
        if (matched == 0) {
            throw new HistoryException("Nothing to revert: no change in the change log matches " + RevertPlan.toJson(revertOf)
                    + ". Nothing was written. (Check the selection with 'annals history' or trail.changes();"
                    + " the change log may also not have caught up yet.)");
        }
        return new RevertPlan(writeTo == null ? changeLog.dataSource() : writeTo, policy, revertOf, matched, planned.steps,
                planned.conflicts);
    }

    /**
     * Whether two connections reach the same database of the same running server: the database's
     * name and the server's start time, to the microsecond, which a role without privileges can
     * read (the data directory and the system identifier it may not).
     */
    private static boolean sameDatabase(Connection a, Connection b) throws SQLException {
        return identity(a).equals(identity(b));
    }

    /** Whether {@code c}'s role may read {@code annals.changes}, as a statement restoring a TRUNCATE there does. */
    private static boolean canReadTheLog(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT CASE WHEN to_regclass('annals.changes') IS NULL THEN false"
                     + " ELSE has_schema_privilege('annals', 'USAGE') AND has_table_privilege('annals.changes', 'SELECT') END")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    private static String identity(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_database() || ' ' || extract(epoch FROM pg_postmaster_start_time())::text")) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** The selection as one SQL condition over the change row aliased {@code alias}. */
    private String filter(List<Object> params, String alias) {
        List<String> conditions = QuerySpec.conditions(spec, params, alias);
        return conditions.isEmpty() ? "true" : String.join(" AND ", conditions);
    }

    /**
     * Turns the matching changes, newest first, into steps and conflicts. Under SKIP, a row that
     * is left alone is left alone whole: every older change of it (and every older change of a
     * table whose TRUNCATE is left alone) gets no step either, since each step's guard expects
     * the state that the newer steps restore.
     */
    private final class Planner {
        /** Whether the revert writes to the change log's own database, where a TRUNCATE's rows can be read back. */
        final boolean writesWhereTheLogIs;
        /** The TRUNCATEd rows the plan carries so far, and their bytes, when it writes elsewhere. */
        long carriedRows;
        long carriedBytes;
        final List<RevertPlan.Planned> steps = new ArrayList<>();
        final List<RevertPlan.Conflict> conflicts = new ArrayList<>();
        final RevertPlan.LeftAlone leftAlone = new RevertPlan.LeftAlone();

        Planner(boolean writesWhereTheLogIs) {
            this.writesWhereTheLogIs = writesWhereTheLogIs;
        }

        void plan(Change c, ResultSet rs, Connection log, Columns columns) throws SQLException {
            RevertPlan.ChangeRef ref = new RevertPlan.ChangeRef(c.position(), c.transactionId(), c.committedAt(),
                    c.operation(), c.qualifiedTable(), c.primaryKey());
            RevertPlan.Rows rows = RevertPlan.Rows.of(c.qualifiedTable(), c.operation() == Operation.TRUNCATE ? null
                    : rowsOf(c));
            if (policy == ConflictPolicy.SKIP && leftAlone.covers(rows)) {
                leftAlone.add(rows);
                conflicts.add(RevertPlan.Conflict.rowSkipped(ref));
                return;
            }
            RevertPlan.Conflict later = laterConflict(ref, rs);
            Inverse inverse;
            try {
                inverse = inverse(c, rs, log, columns, this);
            } catch (NotKept e) {
                conflicts.add(new RevertPlan.Conflict(RevertPlan.ConflictKind.OLD_VALUE_UNKNOWN, ref, e.getMessage(),
                        e.columns));
                leftAlone.add(rows);
                return;
            }
            if (later != null) {
                conflicts.add(later);
                if (policy == ConflictPolicy.SKIP) {
                    leftAlone.add(rows);
                    return;
                }
            }
            if (inverse != null) steps.add(new RevertPlan.Planned(new RevertPlan.Step(ref, inverse.sql(), inverse.rows()), rows));
        }

        private RevertPlan.Conflict laterConflict(RevertPlan.ChangeRef ref, ResultSet rs) throws SQLException {
            String later = rs.getString("l_position");
            String laterTruncate = rs.getString("tr_position");
            String tableLater = rs.getString("tl_position");
            if (later != null && (laterTruncate == null || later.compareTo(laterTruncate) < 0)) {
                return new RevertPlan.Conflict(RevertPlan.ConflictKind.CHANGED_LATER, ref, "the row was changed again by "
                        + rs.getString("l_operation") + " at " + later + " (tx " + rs.getLong("l_transaction_id") + ", "
                        + rs.getObject("l_committed_at", OffsetDateTime.class).toInstant() + "), which is not being reverted",
                        List.of());
            }
            if (laterTruncate != null) {
                return new RevertPlan.Conflict(RevertPlan.ConflictKind.TRUNCATED_LATER, ref, "the table was truncated at "
                        + laterTruncate + ", which is not being reverted", List.of());
            }
            if (tableLater != null) {
                return new RevertPlan.Conflict(RevertPlan.ConflictKind.CHANGED_LATER, ref, "the table was changed again at "
                        + tableLater + ", by a change that is not being reverted", List.of());
            }
            return null;
        }
    }

    /** The keys a change's inverse touches: its row's, and for an UPDATE that changed it, the old key too. */
    private static List<JsonNode> rowsOf(Change c) {
        JsonNode key = c.primaryKey();
        if (key == null) return List.of();
        if (c.operation() == Operation.UPDATE && c.before() instanceof ObjectNode before) {
            ObjectNode old = JSON.createObjectNode();
            for (Iterator<String> it = key.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (before.has(k)) old.set(k, before.get(k));
            }
            if (!old.equals(key) && old.size() == key.size()) return List.of(key, old);
        }
        return List.of(key);
    }

    /** A compensating statement and how many rows it must touch for its guard to hold. */
    private record Inverse(String sql, long rows) { }

    /** A change whose inverse needs a value the change log does not hold. */
    private static final class NotKept extends Exception {
        private static final long serialVersionUID = 1L;
        final transient List<String> columns;

        NotKept(String message, List<String> columns) {
            super(message, null, false, false);
            this.columns = List.copyOf(columns);
        }
    }

    /**
     * The statement that undoes {@code c}, guarded (unless forced) by the whole row as {@code c}
     * left it; {@code null} when there is nothing to undo.
     *
     * @throws NotKept when undoing it would need a value the log did not keep
     */
    private Inverse inverse(Change c, ResultSet rs, Connection log, Columns columns, Planner planner)
            throws SQLException, NotKept {
        boolean force = policy == ConflictPolicy.FORCE;
        TableName table = new TableName(c.schema(), c.table());
        String t = table.sql();
        switch (c.operation()) {
            case CREATE -> {
                Image after = new Image((ObjectNode) c.after(), c.withheldColumns());
                return new Inverse("DELETE FROM " + t + " AS t USING " + record(t, after.values()) + " AS e WHERE "
                        + keyMatch(c.primaryKey()) + (force ? "" : " AND " + rowMatch(columns, after)), 1);
            }
            case UPDATE -> {
                Image old = oldImage(c, rs);
                List<String> set = new ArrayList<>();
                for (String column : c.changedColumns()) {
                    if (columns.writable(column)) set.add(column);
                }
                old.requireKept(set, "the old value of", c);
                Image after = new Image((ObjectNode) c.after(), c.withheldColumns());
                requireWithheldUnchanged(c, after, columns);
                if (set.isEmpty()) return null; // nothing it changed is still a writable column: nothing to undo
                ObjectNode oldValues = ((ObjectNode) c.primaryKey()).deepCopy();
                for (String column : set) oldValues.set(column, old.values().get(column));
                StringBuilder s = new StringBuilder("UPDATE ").append(t).append(" AS t SET ");
                for (int i = 0; i < set.size(); i++) {
                    if (i > 0) s.append(", ");
                    s.append(Sql.identifier(set.get(i))).append(" = o.").append(Sql.identifier(set.get(i)));
                }
                s.append(" FROM ").append(record(t, oldValues)).append(" AS o, ").append(record(t, after.values()))
                        .append(" AS e WHERE ").append(keyMatch(c.primaryKey()));
                if (!force) {
                    s.append(" AND ").append(rowMatch(columns, after));
                    List<JsonNode> keys = rowsOf(c);
                    if (keys.size() > 1) {
                        // The key goes back to a value that must be free again, as the change left it.
                        s.append(" AND NOT EXISTS (SELECT 1 FROM ").append(t).append(" AS x WHERE ")
                                .append(keyMatch(keys.get(1), "x", "o")).append(")");
                    }
                }
                return new Inverse(s.toString(), 1);
            }
            case DELETE -> {
                Image old = oldImage(c, rs);
                old.requireKept(columns.writable(), "the deleted row's", c);
                List<String> insert = columns.writable();
                String s = "INSERT INTO " + t + " (" + list("", insert) + ") OVERRIDING SYSTEM VALUE SELECT " + list("o.", insert)
                        + " FROM " + record(t, old.values()) + " AS o";
                if (force) return new Inverse(s + upsert(columns, insert), 1);
                // The DELETE left no row under this key: a row there now is a write the revert did not see.
                return new Inverse(s + " WHERE NOT EXISTS (SELECT 1 FROM " + t + " AS x WHERE "
                        + keyMatch(c.primaryKey(), "x", "o") + ") ON CONFLICT DO NOTHING", 1);
            }
            case TRUNCATE -> {
                String cut = previousPosition(log, c.position().toString());
                long rows = truncatedRows(log, table, cut, columns, c);
                if (rows == 0) return null; // it emptied an empty table
                List<String> insert = columns.writable();
                String s = "INSERT INTO " + t + " (" + list("", insert) + ") OVERRIDING SYSTEM VALUE SELECT " + list("r.", insert)
                        + " FROM " + truncatedImages(log, table, cut, rows, planner);
                if (force) return new Inverse(s + upsert(columns, insert), rows);
                // The TRUNCATE left the table empty (newer reverted changes are undone by now).
                return new Inverse(s + " WHERE NOT EXISTS (SELECT 1 FROM " + t + ") ON CONFLICT DO NOTHING", rows);
            }
            default -> throw new IllegalStateException("Unexpected operation " + c.operation());
        }
    }

    /**
     * Fails unless the log knows that the UPDATE left each withheld (masked or omitted) column
     * alone. Such a value is stored as the same placeholder, or not at all, before and after, so
     * only capture can see whether it changed, and only from a full old image (REPLICA IDENTITY
     * FULL): then a changed one is among the changed columns. Otherwise undoing the UPDATE might
     * leave a changed secret in place while reporting the row reverted.
     */
    private static void requireWithheldUnchanged(Change c, Image after, Columns columns) throws NotKept {
        Set<String> candidates = new LinkedHashSet<>(after.placeholders());
        for (String column : c.withheldColumns()) {
            if (!after.values().has(column)) candidates.add(column);
        }
        List<String> masked = new ArrayList<>();
        List<String> omitted = new ArrayList<>();
        boolean seen = !c.withheldColumns().isEmpty() && fullBefore(c);
        for (String column : candidates) {
            if (seen || !columns.writable(column) || c.changedColumns().contains(column)) continue;
            (after.values().has(column) ? masked : omitted).add(column);
        }
        if (masked.isEmpty() && omitted.isEmpty()) return;
        List<String> what = new ArrayList<>();
        if (!masked.isEmpty()) what.add(String.join(", ", masked) + " masked (maskColumns)");
        if (!omitted.isEmpty()) what.add(String.join(", ", omitted) + " omitted (omitColumns)");
        List<String> all = new ArrayList<>(masked);
        all.addAll(omitted);
        throw new NotKept("cannot be reverted safely: the change log holds " + String.join(" and ", what)
                + ", and " + c.qualifiedTable() + " logged only its key on UPDATE (REPLICA IDENTITY DEFAULT), so the log"
                + " cannot tell whether this UPDATE changed " + (all.size() == 1 ? "it" : "them") + ", nor restore the"
                + " old value. (Capture with REPLICA IDENTITY FULL, 'annals run --replica-identity full', to make such"
                + " UPDATEs revertible.)", all);
    }

    /** Whether the change's before image holds the whole row (REPLICA IDENTITY FULL), not only the key. */
    private static boolean fullBefore(Change c) {
        JsonNode before = c.before();
        if (before == null) return false;
        for (Iterator<String> it = before.fieldNames(); it.hasNext(); ) {
            if (!c.primaryKey().has(it.next())) return true;
        }
        return false;
    }

    /**
     * A row image from the log and which of its values are the mask placeholder rather than the
     * row's value. Changes stored before the log recorded withheld columns list none, so there any
     * {@code "****"} counts as a placeholder: a real {@code "****"} may be refused, but a
     * placeholder is never taken for a value.
     */
    private record Image(ObjectNode values, Set<String> placeholders) {

        Image(ObjectNode values, List<String> withheld) {
            this(values, placeholders(values, withheld));
        }

        private static Set<String> placeholders(ObjectNode values, List<String> withheld) {
            Set<String> out = new LinkedHashSet<>();
            if (values == null) return out;
            for (Map.Entry<String, JsonNode> e : values.properties()) {
                if (e.getValue().isTextual() && MASK.equals(e.getValue().textValue())
                        && (withheld.isEmpty() || withheld.contains(e.getKey()))) {
                    out.add(e.getKey());
                }
            }
            return out;
        }

        /** Whether the image holds the row's own value of {@code column}. */
        boolean kept(String column) {
            return values.has(column) && !placeholders.contains(column);
        }

        /** Fails, naming each column and why, unless the image holds the real value of every one of {@code needed}. */
        void requireKept(List<String> needed, String what, Change c) throws NotKept {
            List<String> masked = needed.stream().filter(placeholders::contains).toList();
            List<String> missing = needed.stream().filter(n -> !values.has(n)).toList();
            if (masked.isEmpty() && missing.isEmpty()) return;
            List<String> reasons = new ArrayList<>();
            if (!masked.isEmpty()) {
                reasons.add(String.join(", ", masked) + (masked.size() == 1 ? " is" : " are") + " masked in the change"
                        + " log (\"" + MASK + "\", maskColumns): the real value was never stored");
            }
            if (!missing.isEmpty()) {
                reasons.add(String.join(", ", missing) + (missing.size() == 1 ? " is" : " are") + " not in the change log"
                        + (c.operation() == Operation.DELETE || c.before() != null && !complete(c.before(), c.primaryKey())
                        ? " (omitted with omitColumns, added to the table since, or only the key was logged under"
                          + " REPLICA IDENTITY DEFAULT and the log holds no earlier image of the row)"
                        : " (omitted with omitColumns, or added to the table since)"));
            }
            List<String> columns = new ArrayList<>(masked);
            columns.addAll(missing);
            throw new NotKept("cannot be reverted without writing a value the log did not keep: " + what + " "
                    + String.join("; ", reasons), columns);
        }

        private static boolean complete(JsonNode before, JsonNode key) {
            for (Iterator<String> it = before.fieldNames(); it.hasNext(); ) {
                if (!key.has(it.next())) return true;
            }
            return false;
        }

        /** The columns a guard can compare: those that still exist, are written, and whose value the log holds. */
        List<String> comparable(Columns columns) {
            return columns.writable().stream().filter(this::kept).toList();
        }
    }

    /** The placeholder capture stores in place of a masked value. */
    private static final String MASK = "****";

    /**
     * The row's values before the change: its before image, completed from the row's previous image
     * in the log where the before image holds only the key.
     */
    private static Image oldImage(Change c, ResultSet rs) throws SQLException {
        String previousAfter = rs.getString("prev_after");
        ObjectNode old = JSON.createObjectNode();
        Set<String> placeholders = new LinkedHashSet<>();
        if (previousAfter != null) {
            ObjectNode previous;
            try {
                previous = (ObjectNode) JSON.readTree(previousAfter);
            } catch (JsonProcessingException e) {
                throw new HistoryException("The change log holds invalid JSON: " + e.getOriginalMessage(), e);
            }
            Image image = new Image(previous, strings(rs.getArray("prev_withheld")));
            old.setAll(previous);
            placeholders.addAll(image.placeholders());
        }
        if (c.before() instanceof ObjectNode before) {
            Image image = new Image(before, c.withheldColumns());
            for (Iterator<String> it = before.fieldNames(); it.hasNext(); ) placeholders.remove(it.next());
            old.setAll(before);
            placeholders.addAll(image.placeholders());
        }
        return new Image(old, placeholders);
    }

    /**
     * Where a TRUNCATE's rows come from, as an SQL source of records {@code r} of the table. Where the
     * revert writes to the change log's own database, a read of the log inside the statement: one
     * statement however many rows, and nothing of them held in the plan. Elsewhere that read would
     * fail at apply time, or read whatever log the target holds, so the rows travel in the plan as
     * one JSON literal; all the rows a plan carries are bounded, like its steps, by
     * {@link #maxChanges(int)}, and by {@value #MAX_CARRIED_BYTES} bytes of JSON (jsonb itself
     * stops at 256 MB, and the text is copied a few times on its way; tests lower it).
     *
     * @throws NotKept when the rows must travel in the plan and there are more than that
     */
    private String truncatedImages(Connection log, TableName table, String cut, long rows, Planner planner)
            throws SQLException, NotKept {
        if (planner.writesWhereTheLogIs) {
            return "(" + inline(LiveImages.SQL, table, cut) + ") live, LATERAL jsonb_populate_record(NULL::" + table.sql()
                    + ", live.after) r";
        }
        String carried = ": a revert that writes to another database than the change log's (writingTo) carries them in"
                + " its plan. ";
        String copy = "copy the table as of just before it with 'annals as-of --into' and move its rows over";
        if (planner.carriedRows + rows > maxChanges) {
            throw new NotKept("the TRUNCATE removed " + rows + " rows (" + planner.carriedRows + " carried already), over"
                    + " maxChanges (" + maxChanges + ")" + carried + "Raise maxChanges(n), or " + copy, List.of());
        }
        long budget = maxCarriedBytes - planner.carriedBytes;
        try (PreparedStatement ps = log.prepareStatement("WITH live AS (" + LiveImages.SQL + ")"
                + " SELECT sum(octet_length(live.after::text)),"
                + " CASE WHEN sum(octet_length(live.after::text)) <= ? THEN coalesce(jsonb_agg(live.after), '[]')::text END"
                + " FROM live")) {
            LiveImages.bind(ps, table, cut);
            ps.setLong(LiveImages.parameters(table, cut).length + 1, budget);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                long bytes = rs.getLong(1);
                String images = rs.getString(2);
                if (images == null) {
                    throw new NotKept("the TRUNCATE removed " + rows + " rows, " + bytes + " bytes of JSON, over the " + budget
                            + " a plan may still carry" + carried + "To restore them, " + copy, List.of());
                }
                planner.carriedRows += rows;
                planner.carriedBytes += bytes;
                return "jsonb_populate_recordset(NULL::" + table.sql() + ", " + Sql.literal(images) + "::jsonb) r";
            }
        }
    }

    /**
     * How many rows the table held just before a TRUNCATE (at {@code cut}); fails when some of them
     * cannot be restored whole, since half a table restored is no revert.
     */
    private static long truncatedRows(Connection log, TableName table, String cut, Columns columns, Change c)
            throws SQLException, NotKept {
        try (PreparedStatement ps = log.prepareStatement("SELECT EXISTS (SELECT 1 FROM annals.changes WHERE \"schema\" = ?"
                + " AND \"table\" = ? AND primary_key IS NULL AND operation <> 'TRUNCATE' AND position < ?)")) {
            ps.setString(1, table.schema());
            ps.setString(2, table.table());
            ps.setString(3, c.position().toString());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (rs.getBoolean(1)) {
                    throw new NotKept("the table has no primary key, so the change log cannot tell which rows the"
                            + " TRUNCATE removed", List.of());
                }
            }
        }
        // One pass over the rows it removed: how many, which columns hold a placeholder (see Image),
        // and which columns some image lacks.
        String[] writable = columns.writable().toArray(String[]::new);
        try (PreparedStatement ps = log.prepareStatement("WITH live AS MATERIALIZED (" + LiveImages.SQL + ")"
                + " SELECT (SELECT count(*) FROM live),"
                + " (SELECT array_agg(DISTINCT e.key ORDER BY e.key) FROM live, LATERAL jsonb_each(live.after) e"
                + " WHERE e.value = '\"" + MASK + "\"'::jsonb AND (live.withheld IS NULL OR e.key = ANY (live.withheld))),"
                + " (SELECT array_agg(DISTINCT w ORDER BY w) FROM live, unnest(?::text[]) w"
                + " WHERE NOT jsonb_exists(live.after, w))")) {
            LiveImages.bind(ps, table, cut);
            ps.setArray(LiveImages.parameters(table, cut).length + 1, log.createArrayOf("text", writable));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                long rows = rs.getLong(1);
                List<String> masked = strings(rs.getArray(2));
                List<String> missing = strings(rs.getArray(3));
                if (!masked.isEmpty() || !missing.isEmpty()) {
                    List<String> reasons = new ArrayList<>();
                    if (!masked.isEmpty()) reasons.add(String.join(", ", masked) + " masked (maskColumns)");
                    if (!missing.isEmpty()) {
                        reasons.add(String.join(", ", missing) + " not in the change log (omitted with omitColumns,"
                                + " added to the table since, or never logged)");
                    }
                    List<String> all = new ArrayList<>(masked);
                    all.addAll(missing);
                    throw new NotKept("cannot be reverted without writing a value the log did not keep: some of the "
                            + rows + " rows it removed have " + String.join("; ", reasons)
                            + ", and a TRUNCATE is restored whole or not at all", all);
                }
                return rows;
            }
        }
    }

    private static List<String> strings(java.sql.Array array) throws SQLException {
        return array == null ? List.of() : List.of((String[]) array.getArray());
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

    /** {@code sql} ({@link LiveImages#SQL}) with its parameters inlined as literals. */
    private static String inline(String sql, TableName table, String cut) {
        String[] values = LiveImages.parameters(table, cut);
        StringBuilder out = new StringBuilder();
        int v = 0;
        for (int i = 0; i < sql.length(); i++) {
            char ch = sql.charAt(i);
            if (ch == '?') out.append(Sql.literal(values[v++]));
            else out.append(ch);
        }
        return out.toString();
    }

    private static String record(String table, JsonNode image) {
        return "jsonb_populate_record(NULL::" + table + ", " + Sql.literal(write(image)) + ")";
    }

    private static String keyMatch(JsonNode primaryKey) {
        return keyMatch(primaryKey, "t", "e");
    }

    /** {@code left}'s key columns equal {@code right}'s, column by column. */
    private static String keyMatch(JsonNode primaryKey, String left, String right) {
        List<String> out = new ArrayList<>();
        for (Iterator<String> it = primaryKey.fieldNames(); it.hasNext(); ) {
            String q = Sql.identifier(it.next());
            out.add(left + "." + q + " = " + right + "." + q);
        }
        return String.join(" AND ", out);
    }

    /**
     * True when row {@code t} holds exactly the values of {@code e}, the image {@code expected}
     * read back through the table's types, in every column whose value the log kept. Compared as
     * the types' text output on both sides, so that a numeric's scale (2.50 against 2.5) or a
     * jsonb key counts, and a time zone does not (both sides render in this session). A
     * {@code json} column goes through jsonb, as the log's {@code to_jsonb} image did.
     */
    private static String rowMatch(Columns columns, Image expected) {
        List<String> compared = expected.comparable(columns);
        if (compared.isEmpty()) return "true";
        StringBuilder t = new StringBuilder("ROW(");
        StringBuilder e = new StringBuilder("ROW(");
        for (int i = 0; i < compared.size(); i++) {
            String q = Sql.identifier(compared.get(i));
            String cast = columns.json(compared.get(i)) ? "::jsonb" : "";
            if (i > 0) {
                t.append(", ");
                e.append(", ");
            }
            t.append("t.").append(q).append(cast);
            e.append("e.").append(q).append(cast);
        }
        return t.append(")::text = ").append(e).append(")::text").toString();
    }

    /** Under FORCE, a re-inserted row overwrites whatever holds its key now. */
    private static String upsert(Columns columns, List<String> insert) {
        List<String> others = insert.stream().filter(c -> !columns.key().contains(c)).toList();
        if (columns.key().isEmpty() || others.isEmpty()) return " ON CONFLICT DO NOTHING";
        StringBuilder s = new StringBuilder(" ON CONFLICT (").append(list("", columns.key())).append(") DO UPDATE SET ");
        for (int i = 0; i < others.size(); i++) {
            if (i > 0) s.append(", ");
            String q = Sql.identifier(others.get(i));
            s.append(q).append(" = EXCLUDED.").append(q);
        }
        return s.toString();
    }

    private static String list(String prefix, List<String> columns) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < columns.size(); i++) {
            if (i > 0) s.append(", ");
            s.append(prefix).append(Sql.identifier(columns.get(i)));
        }
        return s.toString();
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

    /**
     * The live columns of a source table: which exist, which can be written (not generated), which
     * are {@code json} (compared through jsonb), and the primary key.
     */
    private record Columns(TableName table, List<String> writable, Set<String> generated, Set<String> json,
                           List<String> key) {

        static Columns read(Connection c, TableName table) throws SQLException {
            List<String> writable = new ArrayList<>();
            Set<String> generated = new LinkedHashSet<>();
            Set<String> json = new LinkedHashSet<>();
            List<String> key = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT a.attname, a.attgenerated <> '',"
                    + " a.atttypid = 'json'::regtype, (SELECT k.n FROM pg_catalog.pg_index i,"
                    + " unnest(i.indkey) WITH ORDINALITY k(attnum, n) WHERE i.indrelid = a.attrelid AND i.indisprimary"
                    + " AND k.attnum = a.attnum)"
                    + " FROM pg_catalog.pg_attribute a WHERE a.attrelid = to_regclass(quote_ident(?) || '.' || quote_ident(?))"
                    + " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum")) {
                ps.setString(1, table.schema());
                ps.setString(2, table.table());
                Map<Long, String> keyed = new java.util.TreeMap<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        String name = rs.getString(1);
                        if (rs.getBoolean(2)) generated.add(name);
                        else writable.add(name);
                        if (rs.getBoolean(3)) json.add(name);
                        long n = rs.getLong(4);
                        if (!rs.wasNull()) keyed.put(n, name);
                    }
                }
                key.addAll(keyed.values());
            }
            if (writable.isEmpty() && generated.isEmpty()) {
                throw new HistoryException("Cannot revert changes of " + table + ": the table no longer exists in the"
                        + " database (it was dropped or renamed after the changes). Nothing was written. Re-create it,"
                        + " or leave its changes out of the revert.");
            }
            return new Columns(table, List.copyOf(writable), Set.copyOf(generated), Set.copyOf(json), List.copyOf(key));
        }

        boolean writable(String column) {
            return writable.contains(column);
        }

        boolean json(String column) {
            return json.contains(column);
        }
    }

    @Override
    public String toString() {
        return "Revert[" + revertOf + ", " + policy + "]";
    }

    private static Map<String, Object> describe(QuerySpec s) {
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
