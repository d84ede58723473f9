package io.annals.context;

/**
 * Thrown when an application binds a context that Annals could not faithfully record: a key that
 * is not a string, a value that cannot be written as JSON, or JSON over the size limit.
 *
 * <p>It is thrown eagerly, where the context is bound, rather than later where a statement runs,
 * because by then the code that built the context is gone and the only choices left would be to
 * fail an unrelated write or to drop the context silently.
 *
 * <pre>{@code
 * try (var scope = AnnalsContext.with(Map.of("user", currentUser()))) {
 *     ...
 * } catch (InvalidContextException e) {
 *     // e.getMessage() names the key or the size and the limit
 * }
 * }</pre>
 */
public final class InvalidContextException extends IllegalArgumentException {

    /** Creates the exception with a message meant for the developer who bound the context. */
    public InvalidContextException(String message) {
        super(message);
    }

    /** Creates the exception with a message and the serialisation error behind it. */
    public InvalidContextException(String message, Throwable cause) {
        super(message, cause);
    }
}
