package io.annals.capture;

/**
 * Whether the first start records every existing row as a SNAPSHOT change.
 *
 * <pre>{@code
 * CaptureOptions.builder(url).snapshot(SnapshotMode.NEVER)
 * }</pre>
 */
public enum SnapshotMode {
    /** Take a consistent baseline of every captured row on first start (the default). */
    INITIAL,
    /** Capture only changes made after the slot is created. */
    NEVER
}
