package io.annals.history;

/**
 * A history query that could not run: an unknown table, no change log in the database, a lost
 * connection, or an image that does not map to the requested Java type. The message says which,
 * and names the fix where there is one.
 *
 * <pre>{@code
 * try {
 *     trail.changes().table("public.orderz").list();
 * } catch (HistoryException e) {
 *     System.err.println(e.getMessage());   // Unknown table 'public.orderz': ...
 * }
 * }</pre>
 */
public class HistoryException extends RuntimeException {

    /** A failure described by {@code message}. */
    public HistoryException(String message) {
        super(message);
    }

    /** A failure described by {@code message}, caused by {@code cause}. */
    public HistoryException(String message, Throwable cause) {
        super(message, cause);
    }
}
