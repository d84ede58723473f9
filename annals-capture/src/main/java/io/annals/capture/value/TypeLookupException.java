package io.annals.capture.value;

/** A type OID could not be resolved: it is not in the source database's catalog, or the lookup failed. */
public final class TypeLookupException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public TypeLookupException(String message) {
        super(message);
    }

    public TypeLookupException(String message, Throwable cause) {
        super(message, cause);
    }
}
