package io.annals.events.aggregate;

/**
 * When the repository stores a snapshot after appending. A snapshot saves replaying the events
 * before it on every load; it costs a write.
 *
 * <pre>{@code
 * SnapshotPolicy.everyEvents(100);                                  // at versions 100, 200, ...
 * (lastSnapshot, version) -> version - lastSnapshot >= 500;         // a policy of your own
 * }</pre>
 */
@FunctionalInterface
public interface SnapshotPolicy {

    /**
     * Whether to snapshot now.
     *
     * @param lastSnapshotVersion the version of the snapshot the load started from (0: none)
     * @param version             the version just appended
     */
    boolean shouldSnapshot(long lastSnapshotVersion, long version);

    /** Never snapshot (explicit {@link AggregateRepository#snapshot(String)} still works). */
    static SnapshotPolicy never() {
        return (last, version) -> false;
    }

    /** Snapshot whenever an append crosses a multiple of {@code n} events. */
    static SnapshotPolicy everyEvents(long n) {
        if (n < 1) throw new IllegalArgumentException("Snapshot every 1 or more events, not " + n);
        return (last, version) -> version / n > last / n;
    }
}
