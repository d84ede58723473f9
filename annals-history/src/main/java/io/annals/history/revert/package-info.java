/**
 * Reverts: undoing changes the log recorded, with compensating SQL on the source.
 * {@link io.annals.history.revert.Revert} says what to undo and how to treat conflicts
 * ({@link io.annals.history.revert.ConflictPolicy}); its {@link io.annals.history.revert.RevertPlan}
 * holds the guarded statements and the conflicts found, to review and apply in one transaction;
 * {@link io.annals.history.revert.RevertConflictException} is a refusal that wrote nothing.
 *
 * <p>A package of its own because it is the only part of the audit trail that writes, and it
 * writes to the source database, under rules (guards, savepoints, never a value the log did not
 * keep) that the reading parts do not share.
 *
 * <pre>{@code
 * RevertPlan plan = trail.revertTransaction(812).onConflict(ConflictPolicy.SKIP).plan();
 * System.out.println(plan.sql());
 * plan.apply();
 * }</pre>
 */
package io.annals.history.revert;
