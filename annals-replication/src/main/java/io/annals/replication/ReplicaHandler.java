package io.annals.replication;

import io.annals.replication.wire.CqrsMessage;

import java.sql.Connection;

/**
 * Custom applying, as django-cqrs' {@code cqrs_create}/{@code cqrs_update} overrides: called for
 * each message the replica applies, after its own write and in the same local transaction, so
 * that derived tables, counters or notifications commit with the row or not at all. Throwing rolls
 * the message back and retries it.
 *
 * <pre>{@code
 * ReplicaHandler countBooks = (action, message, tx) -> {
 *     try (PreparedStatement ps = tx.prepareStatement("UPDATE stats SET changes = changes + 1")) {
 *         ps.executeUpdate();
 *     }
 * };
 * }</pre>
 */
@FunctionalInterface
public interface ReplicaHandler {

    /**
     * What the replica did with the row.
     *
     * <pre>{@code
     * if (action == ReplicaHandler.Action.DELETE) evictCache(message.instancePk());
     * }</pre>
     */
    enum Action {
        /** The row was inserted or updated from a SAVE or SYNC. */
        UPSERT,
        /** The row was deleted (and a tombstone kept). */
        DELETE
    }

    /** Called in {@code transaction} (do not commit, roll back or close it). */
    void applied(Action action, CqrsMessage message, Connection transaction) throws Exception;
}
