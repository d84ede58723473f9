package io.annals.replication.replica;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.annals.replication.ReplicaHandler;
import io.annals.replication.wire.CqrsMessage;
import io.annals.replication.wire.CqrsWire;
import io.annals.replication.wire.PythonText;
import io.annals.replication.wire.SignalType;
import io.annals.replication.wire.WireException;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Applies one message ({@link #apply}), or a batch of them ({@link #applyBatch}), to the replica
 * tables in one local transaction, so that a redelivery is harmless.
 *
 * <p>A message is <em>newer</em> than what the replica has (a row, or a tombstone a DELETE left)
 * when its {@code cqrs_updated} is later, or the same and its {@code cqrs_revision} higher. For one
 * life of a row that is the revision order, since a master stamps each change with a later time
 * (the same time only within one transaction, where the revision decides). It also puts a row that
 * was deleted and re-created, which a django-cqrs master numbers from 0 again, after every message
 * of its earlier life, in whatever order they arrive: ordering by revision alone would let a late
 * SAVE of revision 3 overwrite the re-created row's revision 0, or drop the re-creation.
 * <ul>
 *   <li>SAVE: applied when newer, else ignored (older or equal: a duplicate);</li>
 *   <li>SYNC: always applied to a row that exists (as django-cqrs does), and like a SAVE where
 *       there is only a tombstone, so that a late sync cannot bring a deleted row back;</li>
 *   <li>DELETE: applied when newer; it leaves a tombstone, so that a late SAVE cannot resurrect
 *       the row.</li>
 * </ul>
 * Not thread-safe: one per worker, each with its own connection.
 */
final class Applier {

    /** What became of a message. */
    enum Outcome { APPLIED, IGNORED }

    /**
     * A message checked and converted for {@link #applyBatch}: its table, key, the text its
     * tombstone is kept under, and its ordering state.
     */
    record Prepared(CqrsMessage message, TableShape table, Map<String, JsonNode> key, String pk, Dialect.State incoming) {
        boolean sync() {
            return message.signalType() == SignalType.SYNC;
        }

        boolean delete() {
            return message.signalType() == SignalType.DELETE;
        }

        String row() {
            return message.cqrsId() + "\u0000" + pk;
        }
    }

    /** What a batch did: messages that changed a row or a tombstone, and messages older than what the replica had. */
    record BatchResult(int applied, int ignored) {
    }

    private final Dialect dialect;
    private final Connection connection;
    private final Map<String, TableShape> tables;
    private final String tombstones;

    Applier(Dialect dialect, Connection connection, Map<String, TableShape> tables, String tombstones) throws SQLException {
        this.dialect = dialect;
        this.connection = connection;
        this.tables = tables;
        this.tombstones = tombstones;
        if (dialect.postgres()) {
            // Each message still commits on its own; durability is deferred to barrier(), which the caller runs before it
            // acknowledges anything, so that one WAL flush covers many messages instead of one flush each.
            try (java.sql.Statement s = connection.createStatement()) {
                s.execute("SET synchronous_commit = off");
            }
        }
    }

    /**
     * Makes every transaction this applier committed durable: on PostgreSQL, a commit with
     * {@code synchronous_commit = on} waits for the WAL to be flushed up to it, which covers every
     * earlier commit. Call it before acknowledging the messages applied since the last barrier.
     */
    void barrier() throws SQLException {
        if (!dialect.postgres()) return; // MariaDB commits durably each time (innodb_flush_log_at_trx_commit)
        boolean auto = connection.getAutoCommit();
        if (!auto) connection.setAutoCommit(true);
        try (java.sql.Statement s = connection.createStatement()) {
            s.execute("BEGIN; SET LOCAL synchronous_commit = on; SELECT pg_current_xact_id(); COMMIT");
        }
    }

    void close() {
        try {
            connection.close();
        } catch (SQLException ignored) {
            // broken already: its transaction is gone with it
        }
    }

    /**
     * The batched form of {@code m}, or null when it goes through {@link #apply} alone: an unknown
     * {@code cqrs_id}, a table with a handler (which runs per message), something that cannot be
     * read (which {@link #apply} reports as poison).
     */
    static Prepared prepare(Map<String, TableShape> tables, CqrsMessage m) {
        TableShape t = tables.get(m.cqrsId());
        if (t == null || t.config().handler() != null) return null;
        try {
            Dialect.State incoming = new Dialect.State(m.revision(), m.updated());
            Map<String, JsonNode> key = key(t, m);
            String pk = CqrsWire.json(m.instancePk());
            return pk.length() > 500 ? null : new Prepared(m, t, key, pk, incoming);
        } catch (WireException e) {
            return null;
        }
    }

    /**
     * Applies {@code batch} (messages in arrival order) in one local transaction, with the same
     * outcome row by row as applying them one after the other; rolls back and throws if anything
     * fails, so that the caller can apply them one at a time and isolate a bad one.
     *
     * <p>On PostgreSQL: the messages of one row are first reduced, since a SAVE or DELETE keeps
     * only what is newer than all before it: of a run of SAVEs and DELETEs of one row only the
     * newest is sent (the others are counted as applied when each was the newest of the row so
     * far, as ignored otherwise). A SYNC, which replaces an existing row whatever its age, is
     * kept in its place. The k-th remaining message of every row forms round k, and each round is
     * one statement per table and kind (upsert, sync, delete), whose rows are all different, sent
     * with the whole round's values as arrays. On MariaDB, each message's own statements, in
     * order, in the one transaction.
     */
    BatchResult applyBatch(List<Prepared> batch) throws Exception {
        if (connection.getAutoCommit()) connection.setAutoCommit(false);
        try {
            int applied = 0;
            if (dialect instanceof Dialect.Postgres pg) {
                Map<String, List<Prepared>> byRow = new LinkedHashMap<>();
                for (Prepared p : batch) {
                    List<Prepared> row = byRow.computeIfAbsent(p.row(), k -> new ArrayList<>(1));
                    Prepared last = row.isEmpty() ? null : row.get(row.size() - 1);
                    if (last == null || last.sync() || p.sync()) {
                        row.add(p);
                    } else if (newer(p.incoming(), last.incoming())) {
                        row.set(row.size() - 1, p);
                        applied++; // it was the newest of its row when it came; a newer one follows in the same batch
                    }
                    // else: older than (or as old as) one before it in the batch: ignored
                }
                for (int round = 0; ; round++) {
                    Map<String, List<Prepared>> statements = new LinkedHashMap<>();
                    for (List<Prepared> row : byRow.values()) {
                        if (round >= row.size()) continue;
                        Prepared p = row.get(round);
                        String kind = p.delete() ? "D" : p.sync() ? "Y" : "S";
                        statements.computeIfAbsent(p.message().cqrsId() + "\u0000" + kind, k -> new ArrayList<>()).add(p);
                    }
                    if (statements.isEmpty()) break;
                    for (List<Prepared> rows : statements.values()) applied += pg.applyRound(connection, rows, tombstones);
                }
            } else {
                for (Prepared p : batch) {
                    if (decide(p.table(), p.message(), p.incoming().revision(), p.incoming().updated(), p.key(), p.pk()) == Outcome.APPLIED) {
                        applied++;
                    }
                }
            }
            connection.commit();
            return new BatchResult(applied, batch.size() - applied);
        } catch (Exception e) {
            try {
                connection.rollback();
            } catch (SQLException re) {
                e.addSuppressed(re);
            }
            throw e;
        }
    }

    Outcome apply(CqrsMessage m) throws SQLException, PoisonException, Exception {
        TableShape t = tables.get(m.cqrsId());
        if (t == null) {
            throw new PoisonException("unknown cqrs_id '" + m.cqrsId() + "': this replica maps " + tables.keySet()
                    + "; add a ReplicaTable for it, then retry the dead letters");
        }
        int revision;
        Instant updated;
        Map<String, JsonNode> key;
        try {
            revision = m.revision();
            updated = m.updated();
            key = key(t, m);
        } catch (WireException e) {
            throw new PoisonException(e.getMessage(), e);
        }
        String pkText = CqrsWire.json(m.instancePk());
        if (pkText.length() > 500) throw new PoisonException("instance_pk " + Dialect.abbreviate(pkText) + " is longer than 500 characters");
        boolean hook = t.config().handler() != null;
        if (dialect instanceof Dialect.Postgres pg && !hook) {
            // One statement, one round trip, its own transaction (autocommit).
            if (!connection.getAutoCommit()) connection.setAutoCommit(true);
            Dialect.State incoming = new Dialect.State(revision, updated);
            boolean changed = m.signalType() == SignalType.DELETE
                    ? pg.deleteUnlessOlder(connection, t, ordering(key, m, updated), tombstones, m.cqrsId(), pkText, incoming)
                    : pg.upsertUnlessOlder(connection, t, row(t, m, key, updated), m.signalType() == SignalType.SYNC, tombstones,
                    m.cqrsId(), pkText, incoming);
            return changed ? Outcome.APPLIED : Outcome.IGNORED;
        }
        if (connection.getAutoCommit()) connection.setAutoCommit(false);
        try {
            Outcome outcome = decide(t, m, revision, updated, key, pkText);
            if (outcome == Outcome.APPLIED && t.config().handler() != null) {
                t.config().handler().applied(m.signalType() == SignalType.DELETE ? ReplicaHandler.Action.DELETE
                        : ReplicaHandler.Action.UPSERT, m, connection);
            }
            connection.commit();
            return outcome;
        } catch (Exception e) {
            try {
                connection.rollback();
            } catch (SQLException re) {
                e.addSuppressed(re);
            }
            throw e;
        }
    }

    private Outcome decide(TableShape t, CqrsMessage m, int revision, Instant updated, Map<String, JsonNode> key, String pkText)
            throws SQLException, PoisonException {
        Dialect.State row = dialect.rowState(connection, t, key);
        Dialect.State incoming = new Dialect.State(revision, updated);
        if (row != null) {
            switch (m.signalType()) {
                case SAVE -> {
                    if (!newer(incoming, row)) return Outcome.IGNORED;
                    dialect.upsert(connection, t, row(t, m, key, updated));
                }
                case SYNC -> dialect.upsert(connection, t, row(t, m, key, updated));
                case DELETE -> {
                    if (!newer(incoming, row)) return Outcome.IGNORED;
                    dialect.delete(connection, t, key);
                    dialect.saveTombstone(connection, tombstones, m.cqrsId(), pkText, incoming);
                }
            }
            return Outcome.APPLIED;
        }
        Dialect.State tomb = dialect.tombstone(connection, tombstones, m.cqrsId(), pkText);
        if (tomb != null && !newer(incoming, tomb)) return Outcome.IGNORED;
        if (m.signalType() == SignalType.DELETE) {
            dialect.saveTombstone(connection, tombstones, m.cqrsId(), pkText, incoming);
        } else {
            dialect.upsert(connection, t, row(t, m, key, updated));
            if (tomb != null) dialect.dropTombstone(connection, tombstones, m.cqrsId(), pkText);
        }
        return Outcome.APPLIED;
    }

    /** Later {@code cqrs_updated}, or the same one and a higher revision. */
    static boolean newer(Dialect.State message, Dialect.State have) {
        int byTime = message.updated().compareTo(have.updated());
        return byTime > 0 || (byTime == 0 && message.revision() > have.revision());
    }

    /** The key columns' values, from {@code instance_pk} (an object of fields for a key of several columns). */
    static Map<String, JsonNode> key(TableShape t, CqrsMessage m) {
        Map<String, JsonNode> key = new LinkedHashMap<>();
        JsonNode pk = m.instancePk();
        if (t.key().size() == 1) {
            key.put(t.key().get(0), pk.isObject() && pk.size() == 1 ? pk.elements().next() : pk);
            return key;
        }
        if (!pk.isObject()) {
            throw new WireException(m.cqrsId() + ": instance_pk " + pk + " is one value, but table " + t.name() + " has the key " + t.key());
        }
        for (var it = pk.properties().iterator(); it.hasNext(); ) {
            var e = it.next();
            key.put(t.config().column(e.getKey()), e.getValue());
        }
        for (String k : t.key()) {
            if (!key.containsKey(k)) throw new WireException(m.cqrsId() + ": instance_pk " + pk + " has no value for key column " + k);
        }
        return key;
    }

    /** The key and the ordering columns of a DELETE, for PostgreSQL to read as the table's types. */
    static Map<String, JsonNode> ordering(Map<String, JsonNode> key, CqrsMessage m, Instant updated) {
        Map<String, JsonNode> row = new LinkedHashMap<>(key);
        row.put(TableShape.REVISION, m.instanceData().get(CqrsMessage.REVISION));
        row.put(TableShape.UPDATED, TextNode.valueOf(PythonText.dateTime(updated)));
        return row;
    }

    /** The columns to write: each field renamed, unknown fields dropped (as a Django replica does), the key and ordering columns. */
    static Map<String, JsonNode> row(TableShape t, CqrsMessage m, Map<String, JsonNode> key, Instant updated) {
        Map<String, JsonNode> row = new LinkedHashMap<>(key);
        for (var it = m.instanceData().properties().iterator(); it.hasNext(); ) {
            var f = it.next();
            String col = t.config().column(f.getKey());
            if (t.columns().containsKey(col) && !row.containsKey(col)) row.put(col, f.getValue());
        }
        // In UTC, whatever offset the master wrote: a column without a time zone then holds UTC too.
        row.put(TableShape.UPDATED, TextNode.valueOf(PythonText.dateTime(updated)));
        return row;
    }
}
