/**
 * Event-sourced aggregates: fold events into state, load, decide and append with retries, snapshots and time travel. Start at {@link io.annals.events.aggregate.AggregateRepository}.
 */
package io.annals.events.aggregate;
