package io.annals.events;

/**
 * A place in the global order of all events: the appending transaction's id and the event's
 * position. Events are ordered by transaction id first, then position; see {@link EventStore}
 * for why this and not the position alone is the order that never skips an event.
 *
 * <pre>{@code
 * GlobalPosition last = GlobalPosition.START;
 * for (RecordedEvent e : store.readAll().after(last).maxCount(1000).toList()) {
 *     last = e.globalPosition();
 * }
 * }</pre>
 *
 * @param transactionId the appending transaction ({@code xid8}, never wraps around)
 * @param position      the event's unique position, allocated at append time
 */
public record GlobalPosition(long transactionId, long position) implements Comparable<GlobalPosition> {

    /** Before the first event. */
    public static final GlobalPosition START = new GlobalPosition(0, 0);

    public GlobalPosition {
        if (transactionId < 0 || position < 0) {
            throw new IllegalArgumentException("A global position has a transaction id and a position of 0 or more, not "
                    + transactionId + "/" + position);
        }
    }

    @Override
    public int compareTo(GlobalPosition other) {
        int byTransaction = Long.compare(transactionId, other.transactionId);
        return byTransaction != 0 ? byTransaction : Long.compare(position, other.position);
    }

    /** {@code transactionId/position}, e.g. {@code 771/1042}. */
    @Override
    public String toString() {
        return transactionId + "/" + position;
    }
}
