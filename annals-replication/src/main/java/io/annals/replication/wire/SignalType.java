package io.annals.replication.wire;

/**
 * What a django-cqrs message asks a replica to do with its instance.
 *
 * <pre>{@code
 * if (message.signalType() == SignalType.DELETE) { ... }
 * }</pre>
 */
public enum SignalType {
    /** The instance was created or changed: apply it if its revision is newer. */
    SAVE,
    /** The instance was deleted. */
    DELETE,
    /** The master re-sends the instance as it is now (a sync): apply it whatever its revision. */
    SYNC
}
