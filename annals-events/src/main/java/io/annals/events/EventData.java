package io.annals.events;

import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * An event to append: its id, type and JSON data, and optionally its metadata. Without
 * metadata, the {@linkplain io.annals.context.AnnalsContext#current() current application
 * context} is recorded at append time. Typed events become {@code EventData} through
 * {@link EventTypes#toEventData(Object)}.
 *
 * <pre>{@code
 * EventData opened = EventData.of("AccountOpened", "{\"owner\":\"alice\"}");
 * // retried appends must reuse the same id to be recognised as duplicates
 * EventData deposited = EventData.of(requestId, "MoneyDeposited", "{\"amount\":50}");
 * }</pre>
 *
 * @param eventId  the idempotency key: appending an id already stored, with the same content, is a no-op
 * @param type     the event type name, 1 to {@value #MAX_TYPE_LENGTH} characters
 * @param data     the event as JSON text (any JSON value)
 * @param metadata a JSON object, or null to record the current application context
 * @throws IllegalArgumentException if the type is blank or too long, or data or metadata is not valid JSON
 */
public record EventData(UUID eventId, String type, String data, String metadata) {

    /** The longest event type name, in characters. */
    public static final int MAX_TYPE_LENGTH = 200;

    public EventData {
        Objects.requireNonNull(eventId, "eventId");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(data, "data");
        if (type.isBlank() || type.length() > MAX_TYPE_LENGTH) {
            throw new IllegalArgumentException("An event type is 1 to " + MAX_TYPE_LENGTH + " non-blank characters, not "
                    + (type.isBlank() ? "blank" : type.length() + " characters ('" + type.substring(0, 40) + "...')"));
        }
        Json.requireValid(data, false, () -> "The data of event " + eventId + " (type " + type + ")");
        if (metadata != null) {
            Json.requireValid(metadata, true, () -> "The metadata of event " + eventId + " (type " + type + ")");
        }
    }

    /** An event with a new id ({@link #newEventId()}) and the current application context as metadata. */
    public static EventData of(String type, String data) {
        return new EventData(newEventId(), type, data, null);
    }

    /**
     * A new time-ordered event id (UUID version 7: milliseconds since the epoch, then 74 random
     * bits). Ids made close in time sort close together, so the unique index on event ids is
     * appended to at its end rather than written all over, as random (version 4) ids would be.
     */
    public static UUID newEventId() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        long millis = System.currentTimeMillis();
        long high = (millis << 16) | 0x7000L | (random.nextLong() & 0x0FFFL);
        long low = (random.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
        return new UUID(high, low);
    }

    /** An event with the given id (reuse it when retrying) and the current application context as metadata. */
    public static EventData of(UUID eventId, String type, String data) {
        return new EventData(eventId, type, data, null);
    }

    /** This event with explicit metadata (a JSON object) instead of the current application context. */
    public EventData withMetadata(String metadataJson) {
        return new EventData(eventId, type, data, Objects.requireNonNull(metadataJson, "metadataJson"));
    }
}
