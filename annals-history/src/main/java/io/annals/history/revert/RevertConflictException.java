package io.annals.history.revert;

import io.annals.history.HistoryException;
import java.util.List;

/**
 * A revert refused because of conflicts under {@link ConflictPolicy#FAIL}, or because some
 * changes cannot be reverted at all; nothing was written. Each conflict says which change, which
 * row and why.
 *
 * <pre>{@code
 * try {
 *     plan.apply();
 * } catch (RevertConflictException e) {
 *     e.conflicts().forEach(c -> System.out.println(c.describe()));
 * }
 * }</pre>
 */
public final class RevertConflictException extends HistoryException {

    private static final long serialVersionUID = 1L;

    private final transient List<RevertPlan.Conflict> conflicts;

    RevertConflictException(String message, List<RevertPlan.Conflict> conflicts) {
        super(message);
        this.conflicts = List.copyOf(conflicts);
    }

    /** The conflicts, in the order the revert met them (newest change first). */
    public List<RevertPlan.Conflict> conflicts() {
        return conflicts;
    }
}
