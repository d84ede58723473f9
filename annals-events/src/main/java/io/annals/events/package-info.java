/**
 * The event store: append to streams with optimistic concurrency and idempotency, read streams and the gap-safe global order, map Java events to JSON. Start at {@link io.annals.events.EventStore}.
 */
package io.annals.events;
