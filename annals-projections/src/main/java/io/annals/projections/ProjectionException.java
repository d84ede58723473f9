package io.annals.projections;

/**
 * A projection that cannot be defined, started or run as asked; the message names the
 * projection, what was wrong and how to fix it.
 *
 * <pre>{@code
 * try { projections.start(ledger); }
 * catch (ProjectionException e) { System.err.println(e.getMessage()); }
 * }</pre>
 */
public class ProjectionException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ProjectionException(String message) {
        super(message);
    }

    public ProjectionException(String message, Throwable cause) {
        super(message, cause);
    }
}
