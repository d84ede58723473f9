package io.annals.capture.pgoutput;

/**
 * The column values of one row image, in the relation's column order.
 *
 * <p>Each column is SQL NULL, "unchanged TOASTed value" (the server did not send it because it
 * did not change and lives out of line), or text in PostgreSQL's output format.
 *
 * <pre>{@code
 * if (tuple.isUnchangedToast(3)) { ... fill from the last known image ... }
 * String title = tuple.text(1);
 * }</pre>
 */
public final class Tuple {

    /** Column kinds, as on the wire. */
    public static final byte NULL = 'n', UNCHANGED_TOAST = 'u', TEXT = 't', BINARY = 'b';

    private final byte[] kinds;
    private final String[] values;

    Tuple(byte[] kinds, String[] values) {
        this.kinds = kinds;
        this.values = values;
    }

    public int size() {
        return kinds.length;
    }

    public byte kind(int column) {
        return kinds[column];
    }

    public boolean isNull(int column) {
        return kinds[column] == NULL;
    }

    public boolean isUnchangedToast(int column) {
        return kinds[column] == UNCHANGED_TOAST;
    }

    /** The text of a column, or null when it is NULL or an unchanged TOAST value. */
    public String text(int column) {
        return values[column];
    }
}
