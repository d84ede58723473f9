package io.annals.events;

/**
 * An event could not be written as JSON, so nothing was appended.
 *
 * <pre>{@code
 * catch (EventSerializationException e) { // e.g. a field of a type Jackson cannot write }
 * }</pre>
 */
public final class EventSerializationException extends EventStoreException {

    public EventSerializationException(String message, Throwable cause) {
        super(message, cause);
    }
}
