package io.annals.history;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One column of a change's {@link Change#diff() diff}: its value before and after the change.
 *
 * <p>A value is Java {@code null} when the image does not hold the column (no before image for
 * an INSERT, no after image for a DELETE, or a key-only before image of a table with
 * {@code REPLICA IDENTITY DEFAULT} whose earlier image is not in the log); it is a JSON {@code null} node when the column was SQL NULL.
 *
 * <pre>{@code
 * for (ColumnChange c : change.diff()) {
 *     System.out.println(c.column() + ": " + c.oldValue() + " -> " + c.newValue());
 * }
 * }</pre>
 *
 * @param column   the column's name
 * @param oldValue its value in the before image, or {@code null} if the before image does not hold it
 * @param newValue its value in the after image, or {@code null} if there is no after image
 */
public record ColumnChange(String column, JsonNode oldValue, JsonNode newValue) {

    public ColumnChange {
        if (column == null) throw new IllegalArgumentException("column is required");
        oldValue = oldValue == null ? null : oldValue.deepCopy();
        newValue = newValue == null ? null : newValue.deepCopy();
    }

    /** Whether the before image held this column, so that {@link #oldValue()} is the real old value. */
    public boolean oldValueKnown() {
        return oldValue != null;
    }
}
