package io.annals.changelog;

/**
 * The change log could not be read or written. The message says what failed and, where it can,
 * what to do about it.
 *
 * <pre>{@code
 * try { log.migrate(); } catch (ChangeLogException e) { System.err.println(e.getMessage()); }
 * }</pre>
 */
public class ChangeLogException extends RuntimeException {
    public ChangeLogException(String message, Throwable cause) {
        super(message, cause);
    }

    public ChangeLogException(String message) {
        super(message);
    }
}
