package io.annals.changelog;

import java.util.Locale;

/**
 * Where a capture worker's initial snapshot stands, as its checkpoint records it.
 *
 * <pre>{@code
 * if (checkpoint.snapshotState() == SnapshotState.RUNNING) { ... it was cut short: take it again ... }
 * }</pre>
 */
public enum SnapshotState {
    /** Not started. */
    PENDING,
    /** Being taken; found so at start, it was cut short. */
    RUNNING,
    /** Stored whole. */
    DONE,
    /** Not taken, by choice ({@code --snapshot never}). */
    SKIPPED;

    /** The value in {@code annals.checkpoints.snapshot_state}. */
    String sql() {
        return name().toLowerCase(Locale.ROOT);
    }

    static SnapshotState fromSql(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
