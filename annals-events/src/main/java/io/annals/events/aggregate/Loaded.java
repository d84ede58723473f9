package io.annals.events.aggregate;

import java.time.Instant;

/**
 * An aggregate's state as loaded, and the version to append after.
 *
 * <pre>{@code
 * Loaded<Account> account = accounts.load("42");
 * account.state().balance();
 * account.version();          // expected version of the next append
 * }</pre>
 *
 * @param id              the aggregate id (without the category)
 * @param version         the version of the last event folded in; 0 for an aggregate with no events
 * @param state           the state
 * @param asOf            when the last event folded in was recorded; null with no events, and after an append
 *                        (the state returned by {@code execute} and {@code append} is not read back)
 * @param snapshotVersion the version of the snapshot the load started from; 0 if it replayed every event
 * @param <S>             the state type
 */
public record Loaded<S>(String id, long version, S state, Instant asOf, long snapshotVersion) {
}
