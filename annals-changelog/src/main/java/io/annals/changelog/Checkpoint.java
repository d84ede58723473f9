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
 */
public record Checkpoint(String consumer, Position position, long confirmedLsn, SnapshotState snapshotState, long snapshotLsn) {

    /** True when the change at {@code p} is already stored. */
    public boolean covers(Position p) {
        return position != null && position.compareTo(p) >= 0;
    }
}
