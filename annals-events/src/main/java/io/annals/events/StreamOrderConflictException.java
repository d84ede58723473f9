package io.annals.events;

/**
 * An append inside a caller's transaction was refused because the stream was last appended to
 * by a transaction that started writing after this one. Accepting it would make the stream's
 * order disagree with the global order subscribers see (ordered by transaction id, see
 * {@link EventStore}). Roll back and retry the whole transaction; it only happens when a
 * transaction writes something else before appending and races another append to the same stream.
 *
 * <pre>{@code
 * catch (StreamOrderConflictException e) { connection.rollback(); retry(); }
 * }</pre>
 */
public final class StreamOrderConflictException extends EventStoreException {

    public StreamOrderConflictException(String streamId, Throwable cause) {
        super("Stream " + streamId + " was appended to by a transaction newer than this one while this one was open;"
                + " roll back and retry the transaction (appending first, or in a transaction of its own, avoids this)", cause);
    }
}
