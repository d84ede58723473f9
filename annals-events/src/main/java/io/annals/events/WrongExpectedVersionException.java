package io.annals.events;

/**
 * An append's {@link ExpectedVersion} did not match the stream: someone else appended first.
 * Reload, decide again and retry (the aggregate repository's {@code execute} does this).
 *
 * <pre>{@code
 * catch (WrongExpectedVersionException e) { e.actualVersion(); // 0 when the stream does not exist }
 * }</pre>
 */
public final class WrongExpectedVersionException extends EventStoreException {

    private final String streamId;
    private final ExpectedVersion expected;
    private final long actualVersion;

    public WrongExpectedVersionException(String streamId, ExpectedVersion expected, long actualVersion, Throwable cause) {
        super("Stream " + streamId + " was expected at " + expected + " but is at version " + actualVersion
                + (actualVersion == 0 ? " (it does not exist)" : "") + ": another append came first; reload the stream and retry", cause);
        this.streamId = streamId;
        this.expected = expected;
        this.actualVersion = actualVersion;
    }

    /** The stream appended to. */
    public String streamId() {
        return streamId;
    }

    /** What the append expected. */
    public ExpectedVersion expected() {
        return expected;
    }

    /** The stream's version when the append was refused; 0 if it does not exist. */
    public long actualVersion() {
        return actualVersion;
    }
}
