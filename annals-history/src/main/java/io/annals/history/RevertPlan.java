package io.annals.history;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.context.AnnalsContext;
import io.annals.context.ContextMessage;

import javax.sql.DataSource;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
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
 * the row if the row still holds the values the change log says the reverted change left
 * (compared through {@code to_jsonb}, so time zones and numeric scales do not matter). A guard that
 * matches nothing is a conflict found at apply time: a change the log has not stored yet, or a
 * write the planner could not see.
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
        ROW_MISMATCH
    }

    /**
     * One change that conflicts.
     *
     * @param kind     why
     * @param change   the change being reverted
     * @param detail   what was found, e.g. the later change
     */
    public record Conflict(ConflictKind kind, ChangeRef change, String detail) {
        public Conflict {
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(change, "change");
            Objects.requireNonNull(detail, "detail");
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
     * @param applied       statements that took effect
     * @param skipped       conflicts left alone (policy {@link ConflictPolicy#SKIP}), or rows a forced
     *                      statement found gone
     * @param context       the application context the revert's changes carry in the audit trail
     */
    public record Outcome(long transactionId, String revertId, int applied, List<Conflict> skipped,
                          Map<String, Object> context) {
        public Outcome {
            skipped = List.copyOf(skipped);
            context = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(context));
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Statements sent per round trip when applying. */
    private static final int BATCH = 500;

    private final DataSource target;
    private final ConflictPolicy policy;
    private final Map<String, Object> revertOf;
    private final int matched;
    private final List<Step> steps;
    private final List<Conflict> conflicts;

    RevertPlan(DataSource target, ConflictPolicy policy, Map<String, Object> revertOf, int matched, List<Step> steps,
               List<Conflict> conflicts) {
        this.target = target;
        this.policy = policy;
        this.revertOf = Map.copyOf(revertOf);
        this.matched = matched;
        this.steps = List.copyOf(steps);
        this.conflicts = List.copyOf(conflicts);
    }

    /** The statements that {@link #apply()} runs, in order (newest change first). */
    public List<Step> steps() {
        return steps;
    }

    /**
     * The conflicts found in the change log. Under {@link ConflictPolicy#FAIL} any conflict makes
     * {@link #apply()} refuse; under SKIP their changes have no step; under FORCE the changed-later
     * ones are overwritten and only {@link ConflictKind#OLD_VALUE_UNKNOWN} ones block.
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
     * The plan as an SQL script: a comment per step naming the change it reverts, then the
     * statement; the conflicts as comments at the end.
     */
    public String sql() {
        StringBuilder out = new StringBuilder();
        out.append("-- Revert of ").append(toJson(revertOf)).append(": ").append(matched).append(" change(s), ")
                .append(steps.size()).append(" statement(s), ").append(conflicts.size())
                .append(" conflict(s), policy ").append(policy.name().toLowerCase()).append('\n');
        out.append("BEGIN;\n");
        for (Step s : steps) {
            out.append("-- reverts ").append(s.reverts().describe()).append('\n').append(s.sql()).append(";\n");
        }
        out.append(blocked() ? "ROLLBACK; -- refused: see the conflicts\n" : "COMMIT;\n");
        for (Conflict c : conflicts) {
            out.append("-- conflict (").append(blocks(c) ? "blocks the revert" : policy == ConflictPolicy.SKIP
                    ? "skipped" : "overwritten").append(") ").append(c.describe()).append('\n');
        }
        return out.toString();
    }

    /**
     * Runs the plan in one transaction on the source database, under an application context
     * {@code {"annals.revert_of": ..., "annals.revert_id": ...}} merged over the caller's
     * {@link AnnalsContext#current()}, so that the revert shows in the audit trail and can itself be
     * reverted. Either every step takes effect (minus what the policy skips) or nothing does.
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
        List<Conflict> skipped = new ArrayList<>(policy == ConflictPolicy.SKIP ? conflicts : List.of());
        // Bound as well as emitted, so that a ContextDataSource-wrapped target emits the same context.
        try (AnnalsContext.Scope ignored = AnnalsContext.with(own); Connection c = connect()) {
            AnnalsContext context = AnnalsContext.current();
            boolean autoCommit = c.getAutoCommit();
            c.setAutoCommit(false);
            try {
                try (Statement s = c.createStatement()) {
                    // The statements inline their values as standard SQL string literals.
                    s.execute("SET LOCAL standard_conforming_strings = on");
                }
                try (PreparedStatement ps = c.prepareStatement("SELECT pg_logical_emit_message(true, ?, ?)")) {
                    ps.setString(1, ContextMessage.PREFIX);
                    ps.setString(2, context.toJson());
                    ps.execute();
                }
                int applied = run(c, skipped);
                long xid;
                try (Statement s = c.createStatement();
                     ResultSet rs = s.executeQuery("SELECT txid_current() & 4294967295")) {
                    rs.next();
                    xid = rs.getLong(1);
                }
                c.commit();
                return new Outcome(xid, revertId, applied, skipped, context.asMap());
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(autoCommit);
            }
        } catch (SQLException e) {
            throw new HistoryException("Could not apply the revert (nothing was written): " + e.getMessage(), e);
        }
    }

    private int run(Connection c, List<Conflict> skipped) throws SQLException {
        int applied = 0;
        List<Conflict> mismatches = new ArrayList<>();
        for (int from = 0; from < steps.size(); from += BATCH) {
            List<Step> chunk = steps.subList(from, Math.min(steps.size(), from + BATCH));
            long[] counts;
            try (Statement s = c.createStatement()) {
                for (Step step : chunk) s.addBatch(step.sql());
                counts = s.executeLargeBatch();
            } catch (BatchUpdateException e) {
                long[] done = e.getLargeUpdateCounts();
                int failed = done == null ? 0 : done.length;
                Step step = failed < chunk.size() ? chunk.get(failed) : chunk.get(chunk.size() - 1);
                SQLException cause = e.getNextException() != null ? e.getNextException() : e;
                throw new HistoryException("Could not revert " + step.reverts().describe() + " (nothing was written): "
                        + cause.getMessage() + "\nStatement: " + step.sql(), e);
            }
            for (int i = 0; i < chunk.size(); i++) {
                Step step = chunk.get(i);
                if (counts[i] == step.expectedRows()) {
                    applied++;
                    continue;
                }
                String detail = policy == ConflictPolicy.FORCE
                        ? "the row is gone; nothing to overwrite (" + counts[i] + " of " + step.expectedRows() + " rows)"
                        : "the row no longer holds the values this change left (" + counts[i] + " of "
                          + step.expectedRows() + " rows matched): it was changed after the change log was read, or"
                          + " capture has not stored its latest change yet";
                Conflict conflict = new Conflict(ConflictKind.ROW_MISMATCH, step.reverts(), detail);
                if (policy == ConflictPolicy.FAIL) mismatches.add(conflict);
                else skipped.add(conflict);
            }
        }
        if (!mismatches.isEmpty()) {
            throw new RevertConflictException(refusal(mismatches), mismatches);
        }
        return applied;
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
        if (policy == ConflictPolicy.FAIL) out.append(" (policy fail; use skip to leave those rows alone, or force to overwrite them)");
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
