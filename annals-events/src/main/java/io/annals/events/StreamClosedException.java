package io.annals.events;

/**
 * An append to a stream that was {@linkplain EventStore#archive(String) archived} or
 * {@linkplain EventStore#delete(String) deleted}: such streams are read-only for good.
 *
 * <pre>{@code
 * catch (StreamClosedException e) { if (e.deleted()) ...; }
 * }</pre>
 */
public final class StreamClosedException extends EventStoreException {

    private final String streamId;
    private final boolean deleted;

    public StreamClosedException(String streamId, boolean deleted, Throwable cause) {
        super("Stream " + streamId + (deleted ? " was deleted (a tombstone keeps its id)" : " is archived")
                + " and accepts no more events; start a new stream instead", cause);
        this.streamId = streamId;
        this.deleted = deleted;
    }

    /** The stream. */
    public String streamId() {
        return streamId;
    }

    /** Whether the stream was deleted rather than archived. */
    public boolean deleted() {
        return deleted;
    }
}
