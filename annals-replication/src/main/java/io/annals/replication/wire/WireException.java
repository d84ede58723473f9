package io.annals.replication.wire;

/**
 * A message that is not a django-cqrs message this side can read: its text says what was wrong
 * and where, so that a dead letter carries a reason a person can act on.
 *
 * <pre>{@code
 * try {
 *     CqrsMessage m = CqrsWire.decode(body);
 * } catch (WireException e) {
 *     deadLetter(body, e.getMessage());     // e.g. "signal_type 'UPSERT' is not SAVE, DELETE or SYNC"
 * }
 * }</pre>
 */
public final class WireException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** A message that could not be read, for {@code reason}. */
    public WireException(String reason) {
        super(reason);
    }

    /** A message that could not be read, for {@code reason}, found as {@code cause}. */
    public WireException(String reason, Throwable cause) {
        super(reason, cause);
    }
}
