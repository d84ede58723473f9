package io.annals.changelog;

/**
 * How far one consumer of the WAL has durably got.
 *
 * <pre>{@code
 * Checkpoint cp = ChangeLog.at(dataSource).checkpoint("annals").orElseThrow();
 * if (cp.covers(position)) { skip(); }
 * }</pre>
 *
 * @param consumer      the consumer's name (for the capture worker, its slot name)
 * @param position      the last change stored, or null when none is
 * @param confirmedLsn  end LSN of the last transaction stored whole; the slot may be confirmed up to here
 * @param snapshotState where the initial snapshot stands
 * @param snapshotLsn   the slot's consistent point when the initial snapshot was taken, or 0
 * @param updatedAt     when it last moved
 */
public record Checkpoint(String consumer, Position position, long confirmedLsn, SnapshotState snapshotState, long snapshotLsn,
                         java.time.Instant updatedAt) {

    /** True when the change at {@code p} is already stored. */
    public boolean covers(Position p) {
        return p.ordinal() <= coveredThrough(p.lsn());
    }

    /**
     * The highest ordinal of the transaction that committed at {@code commitLsn} that is already
     * stored: -1 when none is, {@link Long#MAX_VALUE} when all are. The one rule for "skip what is
     * already stored" after a restart, whether the changes arrive one by one or move in whole from
     * staging.
     */
    public long coveredThrough(long commitLsn) {
        if (position == null) return -1;
        int c = Long.compareUnsigned(position.lsn(), commitLsn);
        return c > 0 ? Long.MAX_VALUE : c == 0 ? position.ordinal() : -1;
    }
}
