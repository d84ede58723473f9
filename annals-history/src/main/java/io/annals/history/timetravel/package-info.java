/**
 * Time travel: rows and tables as they stood at a cut of the change log (an instant or a
 * position), replayed from the log. {@link io.annals.history.timetravel.AsOf} is a cut; it reads a
 * row, streams a table, diffs a table against a later cut ({@link io.annals.history.timetravel.RowDiff})
 * and writes tables at the cut into a schema ({@link io.annals.history.timetravel.Materialization}).
 * {@link io.annals.history.timetravel.Instants} parses the instants people type.
 *
 * <p>A package of its own because its rules (what "alive at a cut" means after DELETEs,
 * TRUNCATEs and key changes, and where a table's log begins) are one concept, whichever way the
 * cut is read.
 *
 * <pre>{@code
 * AsOf lastMonth = trail.asOf(Instants.parse("2026-11-01"));
 * Optional<JsonNode> order = lastMonth.row("orders", Map.of("id", 7));
 * lastMonth.materialize("orders", "customers").into("as_of_nov_1");
 * }</pre>
 */
package io.annals.history.timetravel;
