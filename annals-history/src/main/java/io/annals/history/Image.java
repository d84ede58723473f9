package io.annals.history;

/**
 * Which image of a changed row a value predicate looks at.
 *
 * <pre>{@code
 * trail.changes().table("orders").where(Image.AFTER, "status", "=", "paid").list();
 * }</pre>
 */
public enum Image {
    /** The row as it was before the change ({@code before}), completed from the row's previous image where only its key was stored. */
    BEFORE("before"),
    /** The row as the change left it ({@code after}); absent for DELETE and TRUNCATE. */
    AFTER("after");

    private final String column;

    Image(String column) {
        this.column = column;
    }

    /** The change log column that holds this image; a constant, never user input. */
    String column() {
        return column;
    }
}
