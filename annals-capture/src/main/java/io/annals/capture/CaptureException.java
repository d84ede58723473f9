package io.annals.capture;

/**
 * The capture worker cannot start or go on. The message names what is wrong and how to fix it
 * (for example the {@code ALTER SYSTEM} to run when {@code wal_level} is not {@code logical}).
 *
 * <pre>{@code
 * try { worker.start(); } catch (CaptureException e) { System.err.println(e.getMessage()); }
 * }</pre>
 */
public class CaptureException extends RuntimeException {

    private final boolean retryable;

    public CaptureException(String message) {
        this(message, null, false);
    }

    public CaptureException(String message, Throwable cause) {
        this(message, cause, false);
    }

    public CaptureException(String message, Throwable cause, boolean retryable) {
        super(message, cause);
        this.retryable = retryable;
    }

    /** True for failures that may pass by themselves, such as a lost connection. */
    public boolean retryable() {
        return retryable;
    }
}
