package io.annals.projections;

import io.annals.events.RecordedEvent;

import java.util.List;
import java.util.Map;

/**
 * An event-sourced mapping: the read rows of an event's stream after the event, from the rows
 * the stream had before it (a fold). The stream is the canonical row: {@code canonical_pk} is its
 * id. Return the current rows unchanged for an event that changes nothing, and no rows to
 * remove the stream's read rows.
 *
 * <pre>{@code
 * EventMapper balance = (event, current) -> {
 *     BigDecimal before = current.isEmpty() ? BigDecimal.ZERO : new BigDecimal(current.get(0).get("balance").toString());
 *     BigDecimal amount = new BigDecimal(Json.mapper().readTree(event.data()).get("amount").asText());
 *     return List.of(Map.of("balance", event.type().equals("Deposited") ? before.add(amount) : before.subtract(amount)));
 * };
 * }</pre>
 */
@FunctionalInterface
public interface EventMapper {

    /**
     * The stream's read rows after {@code event}.
     *
     * @param current the stream's read rows before it, column to value (as their JSON values)
     * @throws Exception to stop the projection at the event (it is delivered again after a back-off)
     */
    List<Map<String, Object>> apply(RecordedEvent event, List<Map<String, Object>> current) throws Exception;
}
