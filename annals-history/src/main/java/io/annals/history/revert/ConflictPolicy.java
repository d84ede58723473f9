package io.annals.history.revert;

/**
 * What a {@link Revert} does with a conflict: a row that changed again, after a change being
 * reverted, through a change that is not being reverted (or that no longer matches what the
 * change log says it should be when the revert runs).
 *
 * <pre>{@code
 * trail.revertTransaction(812).onConflict(ConflictPolicy.SKIP).plan().apply();
 * }</pre>
 */
public enum ConflictPolicy {
    /** Write nothing and report every conflict (the default). */
    FAIL,
    /** Revert everything else and leave each conflicting row as it is now, reporting it. */
    SKIP,
    /**
     * Overwrite later changes: each row gets its reverted state whatever happened to it since.
     * A change whose old values the log does not hold still cannot be reverted.
     */
    FORCE
}
