package io.annals.replication.replica;

/**
 * A message that no retry can apply (an unknown {@code cqrs_id}, a value that does not fit its
 * column, a body that is not a django-cqrs message): it goes straight to the dead letters with this
 * reason, instead of being retried.
 *
 * <pre>{@code
 * throw new PoisonException("the value \"x\" does not fit column born (DATE)");
 * }</pre>
 */
public final class PoisonException extends Exception {
    private static final long serialVersionUID = 1L;

    public PoisonException(String reason) {
        super(reason);
    }

    public PoisonException(String reason, Throwable cause) {
        super(reason, cause);
    }
}
