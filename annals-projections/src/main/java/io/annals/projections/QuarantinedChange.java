package io.annals.projections;

import io.annals.changelog.Position;

import java.time.Instant;

/**
 * A change a projection's mapping failed on, kept with its error until it is retried or
 * discarded.
 *
 * <pre>{@code
 * for (QuarantinedChange q : projections.quarantined("ledger")) {
 *     System.out.println(q.position() + " " + q.canonicalType() + " " + q.canonicalPk() + ": " + q.error());
 * }
 * }</pre>
 *
 * @param projection    the projection's name
 * @param position      the change's position in the log
 * @param canonicalType the canonical type of its row
 * @param canonicalPk   the row's key, as JSON
 * @param change        the change, as JSON (table, operation, key, before, after, context)
 * @param error         why the mapping failed
 * @param policy        the policy it was quarantined under: {@code HALT} (the projection waits at it) or {@code SKIP}
 * @param discarded     whether it was discarded (a halted projection then passes it)
 * @param quarantinedAt when
 */
public record QuarantinedChange(String projection, Position position, String canonicalType, String canonicalPk,
                                String change, String error, FailurePolicy policy, boolean discarded,
                                Instant quarantinedAt) {
}
