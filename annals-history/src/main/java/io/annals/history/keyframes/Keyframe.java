package io.annals.history.keyframes;

import io.annals.changelog.Position;

import java.time.Instant;
import java.util.Optional;

/**
 * One keyframe: the rows of {@code table} alive right after the change at {@code position}.
 *
 * <pre>{@code
 * for (Keyframe k : trail.keyframes().list("public.orders")) {
 *     System.out.println(k.position() + ": " + k.rows() + " rows (" + k.origin() + ")");
 * }
 * }</pre>
 *
 * @param id          its id in {@code annals.keyframes}
 * @param table       {@code schema.table}
 * @param position    the position it stands at
 * @param committedAt when the change at (or last before) that position was committed
 * @param rows        how many rows it holds
 * @param origin      who wrote it
 * @param createdAt   when it was written
 */
public record Keyframe(long id, String table, Position position, Optional<Instant> committedAt, long rows,
                       Origin origin, Instant createdAt) {

    /** Who wrote a keyframe. */
    public enum Origin {
        /** The background {@link Keyframer}. */
        KEYFRAMER,
        /** {@link Keyframes#build(String)} (or {@code annals keyframes build}). */
        MANUAL,
        /** Retention: the baseline it wrote at its cut-off. */
        RETENTION
    }
}
