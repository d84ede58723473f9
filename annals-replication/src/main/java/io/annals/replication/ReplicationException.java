package io.annals.replication;

/**
 * A replication setup or operation that cannot go on, with a message that says what was wrong and
 * how to fix it (an unknown {@code cqrs_id}, a table without a primary key, a broker that refuses).
 *
 * <pre>{@code
 * try {
 *     master.sync("author", "{\"id\": 1}", null);
 * } catch (ReplicationException e) {
 *     System.err.println(e.getMessage());
 * }
 * }</pre>
 */
public class ReplicationException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** A failure described by {@code message}. */
    public ReplicationException(String message) {
        super(message);
    }

    /** A failure described by {@code message}, caused by {@code cause}. */
    public ReplicationException(String message, Throwable cause) {
        super(message, cause);
    }
}
