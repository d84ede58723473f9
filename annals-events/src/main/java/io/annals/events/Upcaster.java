package io.annals.events;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Turns a stored event of an old type or shape into a newer one while reading; the store is
 * never rewritten. Registered per old type name with {@link EventTypes.Builder#upcast}; upcasters
 * chain until a registered type comes out.
 *
 * <pre>{@code
 * // v1 "DepositMade" had {"cents": 5000}; v2 "MoneyDeposited" has {"amount": 50.00}
 * builder.upcast("DepositMade", old -> new Upcaster.Event("MoneyDeposited",
 *         JsonNodeFactory.instance.objectNode().put("amount", old.data().get("cents").decimalValue().movePointLeft(2))));
 * }</pre>
 */
@FunctionalInterface
public interface Upcaster {

    /** Returns the newer form of {@code old}. */
    Event upcast(Event old);

    /**
     * An event as JSON, between upcasting steps.
     *
     * @param type the type name
     * @param data the event data
     */
    record Event(String type, JsonNode data) {
    }
}
