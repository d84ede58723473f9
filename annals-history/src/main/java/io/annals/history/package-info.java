/**
 * The audit trail: typed, fluent queries over the change log ({@code annals.changes}), and the
 * entry point to everything else this module does with it.
 *
 * <p>{@link io.annals.history.AuditTrail} opens a trail on a database; its
 * {@link io.annals.history.ChangeQuery} narrows the changes by table, row, operation, time or
 * position, transaction, context, changed column and image values, and runs as a list, a
 * server-side stream, or keyset {@link io.annals.history.Page pages}. Each
 * {@link io.annals.history.Change} maps its images to the application's own types through Jackson
 * and gives its {@link io.annals.history.ColumnChange diff}. These are the types the other packages
 * share: time travel ({@code io.annals.history.timetravel}), reverts ({@code io.annals.history.revert})
 * and retention ({@code io.annals.history.retention}) all start from a trail, and a revert takes a
 * {@code ChangeQuery} as its selection.
 *
 * <pre>{@code
 * AuditTrail trail = AuditTrail.of("jdbc:postgresql://db/app?user=annals");
 * for (Change c : trail.history("orders", Map.of("id", 7)).list()) {
 *     System.out.println(c.committedAt() + " " + c.operation() + " " + c.diff());
 * }
 * }</pre>
 */
package io.annals.history;
