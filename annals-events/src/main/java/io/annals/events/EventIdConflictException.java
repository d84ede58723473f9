package io.annals.events;

import java.util.UUID;

/**
 * An append reused event ids that are already stored, but not as the very same append: other
 * content, another stream, or mixed with new ids. A true retry (same ids, same types and data,
 * same stream) is not an error but a no-op, see {@link AppendResult#duplicate()}.
 *
 * <pre>{@code
 * catch (EventIdConflictException e) { log.error("event id {} reused for something else", e.eventId()); }
 * }</pre>
 */
public final class EventIdConflictException extends EventStoreException {

    private final UUID eventId;

    public EventIdConflictException(String message, UUID eventId, Throwable cause) {
        super(message, cause);
        this.eventId = eventId;
    }

    /** One of the conflicting ids. */
    public UUID eventId() {
        return eventId;
    }
}
