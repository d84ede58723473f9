package io.annals.capture.pgoutput;

/**
 * A pgoutput message could not be decoded. This is a bug or a protocol Annals does not know;
 * the capture worker stops rather than skip a change.
 *
 * <pre>{@code
 * catch (PgOutputException e) { log.error("stopping: {}", e.getMessage()); }
 * }</pre>
 */
public class PgOutputException extends RuntimeException {
    public PgOutputException(String message) {
        super(message);
    }
}
