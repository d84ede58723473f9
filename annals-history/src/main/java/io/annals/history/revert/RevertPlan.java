package io.annals.history.revert;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.annals.changelog.Json;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.changelog.Sql;
import io.annals.context.AnnalsContext;
import io.annals.history.AuditTrail;
import io.annals.history.HistoryException;
import io.annals.context.ContextMessage;

import javax.sql.DataSource;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;

/**
 * The compensating writes that undo a set of changes, and the conflicts found while planning
 * them: made by {@link Revert#plan()}, carried out by {@link #apply()}. Print {@link #sql()} to
 * see exactly what would run (the {@code --dry-run} of {@code annals revert}).
 *
 * <p>Changes are undone newest first, one statement each: a reverted INSERT becomes a DELETE, a
 * DELETE an INSERT of the row's old image, an UPDATE an UPDATE of the changed columns back to
 * their old values, a TRUNCATE an INSERT of the rows the table held just before it. Values are
 * written with {@code jsonb_populate_record} from the logged JSON images, the inverse of the
 * {@code to_jsonb} they were stored with, so every type comes back exactly.
 *
 * <p>Each statement is guarded unless the policy is {@link ConflictPolicy#FORCE}: it only touches
 * the row if the row is exactly as the reverted change left it: every column whose value the log
 * kept, compared as text (so a numeric's scale counts), and for a reverted DELETE or TRUNCATE, no
 * row where the change left none. A statement that touches another number of rows than it
 * should is a conflict found at apply time (a change the log has not stored yet, or a write the
 * planner could not see), handled by the policy; it never counts as done.
 *
 * <p>No statement ever writes a value the change log did not keep: a change whose inverse would
 * need a masked value, an omitted column or an old value that only a key-only before image lacks
 * is a {@link ConflictKind#OLD_VALUE_UNKNOWN} conflict, whatever the policy.
 *
 * <pre>{@code
 * RevertPlan plan = trail.revert(trail.changes().contextContains(Map.of("request_id", "r-42"))).plan();
 * System.out.println(plan.sql());          // review
 * RevertPlan.Outcome done = plan.apply();  // one transaction, or nothing
 * }</pre>
 */
public final class RevertPlan {

    /** Why a change cannot be reverted as planned. */
    public enum ConflictKind {
        /** The row changed again after the reverted change, through a change not being reverted. */
        CHANGED_LATER,
        /** The table was truncated after the reverted change, by a change not being reverted. */
        TRUNCATED_LATER,
        /** The log lacks the old values needed (a key-only before image with no earlier image of the row). */
        OLD_VALUE_UNKNOWN,
        /** When the revert ran, the row did not hold the values the change log says it should. */
        ROW_MISMATCH,
        /**
         * Another change of the same row, newer than this one, is left alone (or a newer TRUNCATE of
         * its table is), so this one is left alone too: a row is reverted whole or not at all.
         */
        ROW_SKIPPED
    }

    /**
     * One change that conflicts.
     *
     * @param kind     why
     * @param change   the change being reverted
     * @param detail   what was found, e.g. the later change, or which values the log did not keep
     * @param columns  for {@link ConflictKind#OLD_VALUE_UNKNOWN}, the columns whose values the log did
     *                 not keep; otherwise empty
     */
    public record Conflict(ConflictKind kind, ChangeRef change, String detail, List<String> columns) {
        public Conflict {
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(change, "change");
            Objects.requireNonNull(detail, "detail");
            columns = List.copyOf(columns);
        }

        static Conflict rowSkipped(ChangeRef change) {
            return new Conflict(ConflictKind.ROW_SKIPPED, change, "a newer change of this row (or a newer TRUNCATE of"
                    + " its table) is left alone, so this one is too", List.of());
        }

        /** One line: the change, the row, and why. */
        public String describe() {
            return kind + ": " + change.describe() + ": " + detail;
        }
    }

    /**
     * The identity of a reverted change, small enough to keep by the million.
     *
     * @param position      its position in the change log
     * @param transactionId the transaction that made it
     * @param committedAt   when that transaction committed
     * @param operation     what it did
     * @param table         {@code schema.table}
     * @param primaryKey    the row's key, or {@code null} for a TRUNCATE
     */
    public record ChangeRef(Position position, long transactionId, Instant committedAt, Operation operation,
                            String table, JsonNode primaryKey) {
        /** e.g. {@code UPDATE public.orders {"id":7} at 000000000163A1B8.00000002 (tx 812, 2026-11-24T01:02:03Z)}. */
        public String describe() {
            return operation + " " + table + (primaryKey == null ? "" : " " + primaryKey) + " at " + position
                    + " (tx " + transactionId + ", " + committedAt + ")";
        }
    }

    /**
     * One compensating statement.
     *
     * @param reverts      the change it undoes
     * @param sql          the statement, values inlined, exactly as it runs
     * @param expectedRows how many rows it must touch for its guard to hold
     */
    public record Step(ChangeRef reverts, String sql, long expectedRows) {
    }

    /**
     * What {@link #apply()} did.
     *
     * @param transactionId the transaction that wrote the revert (as the change log records it), so
     *                      that it can in turn be reverted with {@link AuditTrail#revertTransaction(long)}
     * @param revertId      a fresh id, also in the revert's context under {@code annals.revert_id}
     * @param applied       how many statements took effect ({@code reverted().size()})
     * @param reverted      the changes undone, newest first
     * @param skipped       the changes left alone (policies SKIP and FORCE), each with why: conflicts
     *                      found in the log, rows found changed when the revert ran, and older changes of
     *                      those rows
     * @param context       the application context the revert's changes carry in the audit trail
     */
    public record Outcome(long transactionId, String revertId, int applied, List<ChangeRef> reverted,
                          List<Conflict> skipped, Map<String, Object> context) {
        public Outcome {
            reverted = List.copyOf(reverted);
            skipped = List.copyOf(skipped);
            context = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(context));
        }
    }

    /** The rows a step touches: keys of one table, or the whole table (a TRUNCATE). */
    record Rows(String table, List<JsonNode> keys) {
        static Rows of(String table, List<JsonNode> keys) {
            return new Rows(table, keys == null ? null : List.copyOf(keys));
        }

        boolean wholeTable() {
            return keys == null;
        }
    }

    /** A step and the rows it touches. */
    record Planned(Step step, Rows rows) {
    }

    /**
     * The rows a revert leaves alone. Steps run newest first and each one's guard expects the state
     * the newer steps of its row restore, so once a row is left alone every older change of it is
     * too; a TRUNCATE restores its table whole or not at all.
     */
    static final class LeftAlone {
        private final Map<String, Set<JsonNode>> keys = new HashMap<>();
        private final Set<String> wholeTables = new HashSet<>();

        boolean covers(Rows rows) {
            if (wholeTables.contains(rows.table())) return true;
            Set<JsonNode> left = keys.get(rows.table());
            if (left == null) return false;
            if (rows.wholeTable()) return true;
            for (JsonNode key : rows.keys()) {
                if (left.contains(key)) return true;
            }
            return false;
        }

        void add(Rows rows) {
            Set<JsonNode> left = keys.computeIfAbsent(rows.table(), t -> new HashSet<>());
            if (rows.wholeTable()) wholeTables.add(rows.table());
            else left.addAll(rows.keys());
        }
    }

    private static final ObjectMapper JSON = Json.mapper();
    /** Statements sent per round trip when applying. */
    private static final int BATCH = 500;

    private final DataSource target;
    private final ConflictPolicy policy;
    private final Map<String, Object> revertOf;
    private final int matched;
    private final List<Planned> planned;
    private final List<Step> steps;
    private final List<Conflict> conflicts;

    RevertPlan(DataSource target, ConflictPolicy policy, Map<String, Object> revertOf, int matched, List<Planned> planned,
               List<Conflict> conflicts) {
        this.target = target;
        this.policy = policy;
        this.revertOf = Map.copyOf(revertOf);
        this.matched = matched;
        this.planned = List.copyOf(planned);
        this.steps = this.planned.stream().map(Planned::step).toList();
        this.conflicts = List.copyOf(conflicts);
    }

    /** The statements that {@link #apply()} runs, in order (newest change first). */
    public List<Step> steps() {
        return steps;
    }

    /**
     * The conflicts found in the change log. Under {@link ConflictPolicy#FAIL} any conflict makes
     * {@link #apply()} refuse; under SKIP their changes (and the older changes of their rows) have
     * no step; under FORCE the changed-later ones are overwritten and only
     * {@link ConflictKind#OLD_VALUE_UNKNOWN} ones block, since no policy writes a value the log did
     * not keep.
     */
    public List<Conflict> conflicts() {
        return conflicts;
    }

    /** How many changes matched the selection. */
    public int changes() {
        return matched;
    }

    /** The policy the plan was made for. */
    public ConflictPolicy policy() {
        return policy;
    }

    /** What is being reverted, as recorded in the revert's context under {@code annals.revert_of}. */
    public Map<String, Object> revertOf() {
        return revertOf;
    }

    /** Whether {@link #apply()} would refuse because of the conflicts already known. */
    public boolean blocked() {
        return conflicts.stream().anyMatch(this::blocks);
    }

    private boolean blocks(Conflict c) {
        return switch (policy) {
            case FAIL -> true;
            case SKIP -> false;
            case FORCE -> c.kind() == ConflictKind.OLD_VALUE_UNKNOWN;
        };
    }

    /**
     * The plan as an SQL script that is safe to run by hand, in any session: one transaction, the
     * revert's context message, then each statement in a block that raises an error (so the whole
     * transaction rolls back) when it touches another number of rows than the plan expects; the
     * conflicts as comments at the end. Literals read the same whatever
     * {@code standard_conforming_strings} is. Unlike {@link #apply()}, the script cannot leave a
     * row alone at run time: under any policy, a guard that fails there stops it.
     */
    public String sql() {
        StringBuilder out = new StringBuilder();
        out.append("-- Revert of ").append(toJson(revertOf)).append(": ").append(matched).append(" change(s), ")
                .append(steps.size()).append(" statement(s), ").append(conflicts.size())
                .append(" conflict(s), policy ").append(policy.name().toLowerCase()).append('\n');
        out.append("BEGIN;\n");
        Map<String, Object> context = new LinkedHashMap<>();
        context.put("annals.revert_of", revertOf);
        context.put("annals.revert_id", UUID.randomUUID().toString());
        out.append("SELECT pg_logical_emit_message(true, ").append(Sql.literal(ContextMessage.PREFIX)).append(", ")
                .append(Sql.literal(toJson(context))).append(");\n");
        String tag = dollarTag();
        for (Step s : steps) {
            // use_column: a key column named n, in a forced step's ON CONFLICT (n), is the column, not the variable.
            out.append("-- reverts ").append(comment(s.reverts().describe())).append('\n')
                    .append("DO ").append(tag).append(" #variable_conflict use_column\nDECLARE n bigint; BEGIN\n  ").append(s.sql())
                    .append(";\n  GET DIAGNOSTICS n = ROW_COUNT;\n  IF n <> ").append(s.expectedRows())
                    .append(" THEN RAISE EXCEPTION 'annals revert: % of ").append(s.expectedRows())
                    .append(" row(s) matched; the row changed after the plan was made. Nothing was written: plan the"
                            + " revert again.', n; END IF;\nEND ").append(tag).append(";\n");
        }
        out.append(blocked() ? "ROLLBACK; -- refused: see the conflicts\n" : "COMMIT;\n");
        for (Conflict c : conflicts) {
            out.append("-- conflict (").append(blocks(c) ? "blocks the revert" : policy == ConflictPolicy.SKIP
                    || c.kind() == ConflictKind.ROW_SKIPPED ? "left alone" : "overwritten").append(") ")
                    .append(comment(c.describe())).append('\n');
        }
        return out.toString();
    }

    /** {@code text} on one line, for an SQL {@code --} comment: a table name may hold a line break, after which the rest would run. */
    private static String comment(String text) {
        return text.replace('\r', ' ').replace('\n', ' ');
    }

    /** A dollar-quote tag that no statement of the plan contains. */
    private String dollarTag() {
        String tag = "$annals$";
        for (int n = 1; ; n++) {
            String candidate = tag;
            if (steps.stream().noneMatch(s -> s.sql().contains(candidate))) return tag;
            tag = "$annals" + n + "$";
        }
    }

    /**
     * Runs the plan in one transaction on the source database, under an application context
     * {@code {"annals.revert_of": ..., "annals.revert_id": ...}} merged over the caller's
     * {@link AnnalsContext#current()}, so that the revert shows in the audit trail and can itself be
     * reverted.
     *
     * <p>All or nothing, under every policy: the steps run inside a savepoint and each must touch
     * exactly the rows it expects. Under FAIL a step that does not makes the revert refuse. Under
     * SKIP and FORCE the savepoint is rolled back, that row (with every older change of it, or a
     * TRUNCATE's whole table) is left alone, and the remaining steps run again; what commits is one
     * complete run in which every step held, so no row is ever left half reverted.
     *
     * @throws RevertConflictException if conflicts block it (known ones, or guards that fail now under FAIL)
     */
    @SuppressWarnings("try") // the scope binds the context for the connection; its variable is unused
    public Outcome apply() {
        List<Conflict> blocking = conflicts.stream().filter(this::blocks).toList();
        if (!blocking.isEmpty()) {
            throw new RevertConflictException(refusal(blocking), blocking);
        }
        String revertId = UUID.randomUUID().toString();
        Map<String, Object> own = new LinkedHashMap<>();
        own.put("annals.revert_of", revertOf);
        own.put("annals.revert_id", revertId);
        List<Conflict> skipped = new ArrayList<>(policy == ConflictPolicy.FAIL ? List.of()
                : conflicts.stream().filter(c -> !blocks(c) && (policy == ConflictPolicy.SKIP
                || c.kind() == ConflictKind.ROW_SKIPPED)).toList());
        // Bound as well as emitted, so that a ContextDataSource-wrapped target emits the same context.
        try (AnnalsContext.Scope ignored = AnnalsContext.with(own); Connection c = connect()) {
            AnnalsContext context = AnnalsContext.current();
            return Sql.inTransaction(c, tx -> {
                try (PreparedStatement ps = tx.prepareStatement("SELECT pg_logical_emit_message(true, ?, ?)")) {
                    ps.setString(1, ContextMessage.PREFIX);
                    ps.setString(2, context.toJson());
                    ps.execute();
                }
                List<ChangeRef> reverted = run(tx, skipped);
                long xid;
                try (Statement s = tx.createStatement();
                     ResultSet rs = s.executeQuery("SELECT txid_current() & 4294967295")) {
                    rs.next();
                    xid = rs.getLong(1);
                }
                return new Outcome(xid, revertId, reverted.size(), reverted, skipped, context.asMap());
            });
        } catch (SQLException e) {
            throw new HistoryException("Could not apply the revert (nothing was written): " + e.getMessage(), e);
        }
    }

    /**
     * Runs the steps until one run holds throughout; returns the changes it reverted. Each failed
     * run leaves at least one more step out, so this ends.
     */
    private List<ChangeRef> run(Connection c, List<Conflict> skipped) throws SQLException {
        Set<Integer> mismatched = new HashSet<>();
        while (true) {
            // Which steps run: all but the mismatched ones and the older changes of their rows.
            LeftAlone leftAlone = new LeftAlone();
            List<Integer> running = new ArrayList<>();
            List<Conflict> leftThisRun = new ArrayList<>();
            for (int i = 0; i < planned.size(); i++) {
                Planned p = planned.get(i);
                if (mismatched.contains(i)) {
                    leftAlone.add(p.rows());
                } else if (leftAlone.covers(p.rows())) {
                    leftAlone.add(p.rows());
                    leftThisRun.add(Conflict.rowSkipped(p.step().reverts()));
                } else {
                    running.add(i);
                }
            }
            Savepoint savepoint = c.setSavepoint();
            List<Integer> failed = runOnce(c, running);
            if (failed.isEmpty()) {
                c.releaseSavepoint(savepoint);
                skipped.addAll(leftThisRun);
                List<ChangeRef> reverted = new ArrayList<>(running.size());
                for (int i : running) reverted.add(planned.get(i).step().reverts());
                return reverted;
            }
            c.rollback(savepoint);
            // An older step of a row whose newer step failed fails as a consequence: only the first
            // failure of each row is a mismatch; the next run leaves the rest of the row alone.
            List<Conflict> mismatches = new ArrayList<>();
            LeftAlone failedRows = new LeftAlone();
            for (int i : failed) {
                Rows rows = planned.get(i).rows();
                if (!failedRows.covers(rows)) {
                    mismatched.add(i);
                    mismatches.add(mismatch(planned.get(i).step()));
                }
                failedRows.add(rows);
            }
            if (policy == ConflictPolicy.FAIL) {
                throw new RevertConflictException(refusal(mismatches), mismatches);
            }
            skipped.addAll(mismatches);
        }
    }

    /** Runs the given steps in order; returns those that touched another number of rows than expected. */
    private List<Integer> runOnce(Connection c, List<Integer> running) throws SQLException {
        List<Integer> failed = new ArrayList<>();
        for (int from = 0; from < running.size(); from += BATCH) {
            List<Integer> chunk = running.subList(from, Math.min(running.size(), from + BATCH));
            long[] counts;
            try (Statement s = c.createStatement()) {
                for (int i : chunk) s.addBatch(planned.get(i).step().sql());
                counts = s.executeLargeBatch();
            } catch (BatchUpdateException e) {
                long[] done = e.getLargeUpdateCounts();
                int at = done == null ? 0 : done.length;
                Step step = planned.get(chunk.get(Math.min(at, chunk.size() - 1))).step();
                SQLException cause = e.getNextException() != null ? e.getNextException() : e;
                throw new HistoryException("Could not revert " + step.reverts().describe() + " (nothing was written): "
                        + cause.getMessage() + "\nStatement: " + step.sql(), e);
            }
            for (int k = 0; k < chunk.size(); k++) {
                int i = chunk.get(k);
                if (counts[k] != planned.get(i).step().expectedRows()) failed.add(i);
            }
            // A statement that went wrong makes the rest of the run moot when it must be repeated anyway.
            if (!failed.isEmpty() && policy == ConflictPolicy.FAIL) return failed;
        }
        return failed;
    }

    private Conflict mismatch(Step step) {
        String detail = policy == ConflictPolicy.FORCE
                ? "the row is gone, so there is nothing to overwrite"
                : "the row no longer holds exactly what this change left: it was changed after the change log was"
                  + " read, or capture has not stored its latest change yet";
        return new Conflict(ConflictKind.ROW_MISMATCH, step.reverts(), detail + " (expected " + step.expectedRows()
                + " row(s) to match)", List.of());
    }

    private Connection connect() {
        try {
            return target.getConnection();
        } catch (SQLException e) {
            throw new HistoryException("Could not connect to the database to revert: " + e.getMessage(), e);
        }
    }

    private String refusal(List<Conflict> blocking) {
        StringBuilder out = new StringBuilder("Revert refused, nothing was written: ").append(blocking.size())
                .append(" conflict(s)");
        if (policy == ConflictPolicy.FAIL) {
            out.append(" (policy fail; use skip to leave those rows alone, or force to overwrite them)");
        } else if (policy == ConflictPolicy.FORCE) {
            out.append(" (even force never writes a value the change log did not keep; use skip to leave those rows alone)");
        }
        out.append(':');
        int shown = 0;
        for (Conflict c : blocking) {
            if (shown++ == 20) {
                out.append("\n  ... and ").append(blocking.size() - 20).append(" more");
                break;
            }
            out.append("\n  ").append(c.describe());
        }
        return out.toString();
    }

    static String toJson(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("Cannot write the revert's context as JSON: " + e.getOriginalMessage(), e);
        }
    }

    @Override
    public String toString() {
        return "RevertPlan[" + matched + " changes, " + steps.size() + " steps, " + conflicts.size() + " conflicts, "
                + policy + "]";
    }
}
