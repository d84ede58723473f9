/**
 * Change feeds: named consumers that read the change log in order, never skipping a change that
 * commits late, and deliver it to a handler exactly once (checkpoint and output in one transaction)
 * or at least once. Start at {@link io.annals.changelog.feed.ChangeFeed}.
 *
 * <p>A package apart from the log itself because a feed only reads it, through its public API, and
 * keeps its checkpoints ({@code annals.feed_checkpoints}, with a Flyway history of their own) in
 * whichever database its output goes to, which need not be the log's.
 *
 * <pre>{@code
 * try (ChangeFeed feed = ChangeFeed.from(log).named("orders-copy").tables("public.orders")
 *         .startTransactional(replica, (changes, tx) -> apply(changes, tx))) { ... }
 * }</pre>
 */
package io.annals.changelog.feed;
