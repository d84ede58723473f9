package io.annals.events;

import java.util.Objects;
import java.util.UUID;

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

    /** An event with a new random id and the current application context as metadata. */
    public static EventData of(String type, String data) {
        return new EventData(UUID.randomUUID(), type, data, null);
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
