/**
 * Durable, named subscriptions to the global order of events, at least once or exactly once. Start at {@link io.annals.events.subscription.Subscription}.
 */
package io.annals.events.subscription;
