package io.annals.events;

/**
 * Something the event store could not do. Subclasses name the cases callers handle
 * differently; this class alone means a database problem, with the SQL error as cause.
 *
 * <pre>{@code
 * try {
 *     store.append(id, ExpectedVersion.exactly(v), events);
 * } catch (WrongExpectedVersionException e) {
 *     reloadAndRetry(e.actualVersion());
 * } catch (EventStoreException e) {
 *     log.error("append failed", e);
 * }
 * }</pre>
 */
public class EventStoreException extends RuntimeException {

    public EventStoreException(String message, Throwable cause) {
        super(message, cause);
    }

    public EventStoreException(String message) {
        super(message);
    }
}
