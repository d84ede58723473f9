/**
 * Internals the other packages of annals-history share, not exported by the module: reading
 * the change log ({@link io.annals.history.internal.ChangeLogReader}), a query's description and
 * its SQL ({@link io.annals.history.internal.QuerySpec}), streamed reads
 * ({@link io.annals.history.internal.Cursor}), the rows alive at a cut
 * ({@link io.annals.history.internal.LiveImages}), table names, and how the audit trail makes the
 * API objects of the other packages ({@link io.annals.history.internal.Makers}).
 *
 * <p>Its types are public only so that those packages can use them; they are not API and may
 * change at any time.
 *
 * <pre>{@code
 * TableName orders = TableName.parse("orders");   // public.orders
 * }</pre>
 */
package io.annals.history.internal;
