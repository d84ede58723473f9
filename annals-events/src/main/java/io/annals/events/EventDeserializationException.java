package io.annals.events;

/**
 * A stored event could not be read back as its Java type: its JSON does not fit the class
 * (a missing or unknown property, a wrong value type). The message names the event; register
 * an {@link Upcaster} for the old shape.
 *
 * <pre>{@code
 * catch (EventDeserializationException e) { e.event(); // the stored event as it is }
 * }</pre>
 */
public final class EventDeserializationException extends EventStoreException {

    private final RecordedEvent event;

    public EventDeserializationException(String message, RecordedEvent event, Throwable cause) {
        super(message, cause);
        this.event = event;
    }

    /** The stored event that could not be read. */
    public RecordedEvent event() {
        return event;
    }
}
