package io.annals.events;

/**
 * A stored event's type is neither registered nor upcast by the {@link EventTypes} reading it.
 * Thrown under {@link EventTypes.OnUnknownType#FAIL} (the default); under
 * {@link EventTypes.OnUnknownType#SKIP} the event is skipped with a log line.
 *
 * <pre>{@code
 * EventTypes.of(AccountEvent.class).onUnknownType(EventTypes.OnUnknownType.SKIP).build();
 * }</pre>
 */
public final class UnknownEventTypeException extends EventStoreException {

    private final RecordedEvent event;

    public UnknownEventTypeException(String message, RecordedEvent event) {
        super(message);
        this.event = event;
    }

    /** The stored event of unknown type. */
    public RecordedEvent event() {
        return event;
    }
}
