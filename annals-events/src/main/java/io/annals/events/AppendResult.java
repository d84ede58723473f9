package io.annals.events;

/**
 * What an append did.
 *
 * <pre>{@code
 * AppendResult r = store.append("account-42", ExpectedVersion.exactly(3), deposited);
 * r.streamVersion();   // 4
 * r.duplicate();       // true when the same ids were already appended: nothing new was stored
 * }</pre>
 *
 * @param streamId      the stream appended to
 * @param streamVersion the stream's version after the append (for a duplicate: the version of its last event)
 * @param firstPosition the position of the first event appended
 * @param lastPosition  the position of the last event appended
 * @param duplicate     whether the append had already happened (an idempotent retry): nothing was written
 */
public record AppendResult(String streamId, long streamVersion, long firstPosition, long lastPosition, boolean duplicate) {
}
