package io.annals.capture.assembly;

import io.annals.capture.assembly.Boundary.StreamedAbort;
import io.annals.capture.assembly.Boundary.StreamedCommit;
import io.annals.capture.assembly.Boundary.TransactionEnd;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.annals.capture.CaptureException;
import io.annals.capture.CaptureOptions;
import io.annals.capture.ColumnPolicy;
import io.annals.capture.pgoutput.PgOutputMessage;
import io.annals.capture.pgoutput.Tuple;
import io.annals.capture.value.PgTypes;
import io.annals.capture.value.TypeLookupException;
import io.annals.capture.value.ValueConverter;
import io.annals.changelog.Checkpoint;
import io.annals.changelog.Json;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.context.ContextMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Turns the decoded pgoutput stream into {@link PendingChange}s: tracks relations and the open
 * transaction, numbers each change inside its transaction, and stitches each row change to the
 * latest application-context message that came before it in the same transaction.
 *
 * <p>Changes at or before the checkpoint are dropped here: after a crash the slot replays from its
 * last confirmed transaction, part of which may already be stored.
 */
public final class ChangeAssembler {

    private static final Logger log = LoggerFactory.getLogger(ChangeAssembler.class);
    private static final long PG_EPOCH_MICROS = 946_684_800_000_000L;
    private static final String EMPTY_CONTEXT = "{}";
    private static final ObjectMapper JSON = Json.mapper();

    private final CaptureOptions options;
    private final PgTypes types;
    private final ValueConverter values;
    private final PgTypes.ConnectionSource catalog;
    private final String ownOrigin;
    private final Map<Integer, RelationInfo> relations = new HashMap<>();
    private final Consumer<PendingChange> sink;
    private final Checkpoint checkpoint;

    // The open transaction.
    private boolean inTransaction;
    private long commitLsn;
    private Instant commitTime;
    private long xid;
    private long ordinal;
    private boolean skipTransaction;
    private String context = EMPTY_CONTEXT;
    private final StringBuilder scratch = new StringBuilder(256);

    public ChangeAssembler(CaptureOptions options, PgTypes types, PgTypes.ConnectionSource catalog, String ownOrigin,
                    Checkpoint checkpoint, Consumer<PendingChange> sink) {
        this.options = options;
        this.types = types;
        this.values = new ValueConverter(types);
        this.catalog = catalog;
        this.ownOrigin = ownOrigin;
        this.checkpoint = checkpoint;
        this.sink = sink;
    }

    public boolean inTransaction() {
        return inTransaction;
    }

    /** State of a streamed transaction between its blocks. */
    private static final class Streamed {
        /**
         * Context messages in arrival order, each with the subtransaction it belongs to, so that a
         * rolled-back subtransaction's context stops applying, as it would had the server not
         * streamed. pgoutput labels a streamed message with the top-level xid, so a message whose
         * owner is unknown (-1) is given the subtransaction of the first change after it.
         */
        final List<long[]> owners = new ArrayList<>();
        final List<String> contexts = new ArrayList<>();
        long arrivals;

        String context() {
            return contexts.isEmpty() ? EMPTY_CONTEXT : contexts.get(contexts.size() - 1);
        }

        void add(long owner, String context) {
            owners.add(new long[]{owner});
            contexts.add(context);
        }

        void claim(long subXid) {
            if (!owners.isEmpty() && owners.get(owners.size() - 1)[0] == -1) owners.get(owners.size() - 1)[0] = subXid;
        }

        void abort(long subXid) {
            for (int i = owners.size() - 1; i >= 0; i--) {
                if (owners.get(i)[0] == subXid) {
                    owners.remove(i);
                    contexts.remove(i);
                }
            }
        }
    }

    private final Map<Long, Streamed> streamed = new HashMap<>();
    /** The streamed transaction whose block is open, or null outside a block. */
    private Streamed block;
    private long blockXid;

    /** True while a streamed transaction has begun but neither committed nor aborted. */
    public boolean hasOpenStreams() {
        return !streamed.isEmpty();
    }

    /**
     * Handles one message. Returns what it ended (a transaction, or a streamed one), else null.
     */
    public Boundary accept(PgOutputMessage message) {
        switch (message) {
            case PgOutputMessage.Begin b -> {
                inTransaction = true;
                commitLsn = b.finalLsn();
                commitTime = toInstant(b.commitTimeMicros());
                xid = b.xid();
                ordinal = 0;
                skipTransaction = false;
                context = EMPTY_CONTEXT;
            }
            case PgOutputMessage.Commit c -> {
                inTransaction = false;
                return new TransactionEnd(c.endLsn());
            }
            case PgOutputMessage.Origin o -> skipTransaction = o.name().equals(ownOrigin);
            case PgOutputMessage.Relation r -> relations.put(r.relationId(), describe(r));
            case PgOutputMessage.Type t -> types.invalidate(t.typeOid());
            case PgOutputMessage.Message m -> onMessage(m);
            case PgOutputMessage.Insert i -> {
                RelationInfo rel = relation(i.relationId());
                if (wanted(rel)) {
                    Position p = next(i.xid());
                    if (p != null) {
                        String[] after = convert(rel, i.newTuple());
                        emit(p, i.xid(), rel, Operation.CREATE, null, false, after, key(rel, after), null);
                    }
                }
            }
            case PgOutputMessage.Update u -> {
                RelationInfo rel = relation(u.relationId());
                if (wanted(rel)) {
                    Position p = next(u.xid());
                    if (p != null) {
                        String[] after = convert(rel, u.newTuple());
                        String newKey = key(rel, after);
                        String[] before;
                        boolean full = u.oldKind() == 'O';
                        if (u.oldTuple() != null) {
                            before = convert(rel, u.oldTuple());
                        } else {
                            // REPLICA IDENTITY DEFAULT/INDEX and the key did not change: the key is the before image.
                            before = keyOnly(rel, after);
                        }
                        String oldKey = u.oldTuple() == null ? newKey : key(rel, before);
                        emit(p, u.xid(), rel, Operation.UPDATE, before, full, after, newKey, oldKey,
                                full ? withheldChanges(rel, u.oldTuple(), u.newTuple()) : null);
                    }
                }
            }
            case PgOutputMessage.Delete d -> {
                RelationInfo rel = relation(d.relationId());
                if (wanted(rel)) {
                    Position p = next(d.xid());
                    if (p != null) {
                        String[] before = convert(rel, d.oldTuple());
                        String k = key(rel, before);
                        emit(p, d.xid(), rel, Operation.DELETE, before, d.oldKind() == 'O', null, k, k);
                    }
                }
            }
            case PgOutputMessage.Truncate t -> {
                for (int id : t.relationIds()) {
                    RelationInfo rel = relation(id);
                    if (wanted(rel)) {
                        Position p = next(t.xid());
                        if (p != null) emit(p, t.xid(), rel, Operation.TRUNCATE, null, false, null, null, null);
                    }
                }
            }
            case PgOutputMessage.StreamStart s -> {
                blockXid = s.xid();
                block = streamed.computeIfAbsent(s.xid(), x -> new Streamed());
            }
            case PgOutputMessage.StreamStop s -> {
                block = null;
                blockXid = 0;
            }
            case PgOutputMessage.StreamCommit s -> {
                streamed.remove(s.xid());
                return new StreamedCommit(s.xid(), s.commitLsn(), toInstant(s.commitTimeMicros()), s.endLsn());
            }
            case PgOutputMessage.StreamAbort s -> {
                if (s.xid() == s.subXid()) {
                    streamed.remove(s.xid());
                } else {
                    Streamed st = streamed.get(s.xid());
                    if (st != null) st.abort(s.subXid());
                }
                return new StreamedAbort(s.xid(), s.subXid());
            }
            case PgOutputMessage.TwoPhase t -> throw new CaptureException("Received two-phase commit message '" + t.kind()
                    + "', but two-phase decoding was not requested");
        }
        return null;
    }

    private void onMessage(PgOutputMessage.Message m) {
        if (!m.transactional()) return; // heartbeats and other non-transactional messages carry no context
        if (!ContextMessage.isContextPrefix(m.prefix())) return;
        if (block != null) block.add(m.xid() == blockXid ? -1 : m.xid(), normaliseContext(m.content()));
        else context = normaliseContext(m.content());
    }

    /**
     * The context as stored. Applications validate contexts before emitting them, but SQL can
     * emit anything; an invalid one is kept verbatim under a marker key rather than dropped.
     */
    static String normaliseContext(byte[] content) {
        String text = new String(content, StandardCharsets.UTF_8);
        try (JsonParser p = JSON.getFactory().createParser(text)) {
            if (p.nextToken() == JsonToken.START_OBJECT) {
                p.skipChildren();
                if (p.nextToken() == null) return text;
            }
        } catch (java.io.IOException e) {
            // fall through
        }
        StringBuilder sb = new StringBuilder(text.length() + 32).append("{\"annals.invalid_context\":");
        ValueConverter.appendJsonString(sb, text);
        return sb.append('}').toString();
    }

    /**
     * The next change's position, or null when the checkpoint shows it is stored already.
     * Ordinals count captured changes only, in the order the server sends them, which is the same
     * whether or not the transaction was streamed; a streamed change gets its arrival number, and
     * its real position when the transaction commits.
     */
    private Position next(long messageXid) {
        if (block != null) {
            return Position.of(0, block.arrivals++);
        }
        if (ordinal > Position.MAX_ORDINAL) {
            throw new CaptureException("Transaction " + xid + " has more than 2^32 changes, which positions cannot number");
        }
        Position p = Position.of(commitLsn, ordinal++);
        return checkpoint != null && checkpoint.covers(p) ? null : p;
    }

    private boolean wanted(RelationInfo rel) {
        return rel.captured() && (block != null || !skipTransaction);
    }

    private void emit(Position p, long messageXid, RelationInfo rel, Operation op, String[] before, boolean full,
                      String[] after, String key, String previousKey) {
        emit(p, messageXid, rel, op, before, full, after, key, previousKey, null);
    }

    private void emit(Position p, long messageXid, RelationInfo rel, Operation op, String[] before, boolean full,
                      String[] after, String key, String previousKey, BitSet withheldChanged) {
        if (block != null) {
            block.claim(messageXid);
            sink.accept(new PendingChange(p, blockXid, null, rel, op, before, full, after, key, previousKey,
                    block.context(), messageXid, withheldChanged));
        } else {
            sink.accept(new PendingChange(p, xid, commitTime, rel, op, before, full, after, key, previousKey, context, -1,
                    withheldChanged));
        }
    }

    /**
     * The masked or omitted columns whose value an UPDATE changed, from the raw old and new values
     * (a full old image, REPLICA IDENTITY FULL): once withheld, both are the same placeholder or
     * nothing, and only here can the change still be seen. Null when none changed.
     */
    private static BitSet withheldChanges(RelationInfo rel, Tuple before, Tuple after) {
        BitSet out = null;
        ColumnPolicy.Treatment[] treatments = rel.treatments();
        int n = Math.min(Math.min(before.size(), after.size()), treatments.length);
        for (int i = 0; i < n; i++) {
            if (treatments[i] == ColumnPolicy.Treatment.STORE || after.isUnchangedToast(i) || before.isUnchangedToast(i)) {
                continue;
            }
            if (!java.util.Objects.equals(before.text(i), after.text(i)) || before.kind(i) != after.kind(i)) {
                if (out == null) out = new BitSet();
                out.set(i);
            }
        }
        return out;
    }

    private RelationInfo relation(int id) {
        RelationInfo rel = relations.get(id);
        if (rel == null) {
            throw new CaptureException("A change refers to relation " + id + " before any Relation message described it;"
                    + " the stream is out of order");
        }
        return rel;
    }

    private RelationInfo describe(PgOutputMessage.Relation r) {
        types.invalidateAll();
        boolean captured = options.tables().captures(r.schema(), r.table());
        List<String> pk = captured ? primaryKey(r.relationId()) : List.of();
        RelationInfo info = RelationInfo.of(r, captured, options.columns(), pk);
        log.debug("Relation {}.{} ({} columns, captured={})", r.schema(), r.table(), info.columnCount(), captured);
        return info;
    }

    private List<String> primaryKey(int relationId) {
        try (Connection c = catalog.open();
             PreparedStatement ps = c.prepareStatement("SELECT a.attname FROM pg_index i"
                     + " JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true"
                     + " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
                     + " WHERE i.indrelid = ? AND i.indisprimary ORDER BY k.n")) {
            ps.setInt(1, relationId);
            List<String> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(rs.getString(1));
            }
            return out;
        } catch (SQLException e) {
            throw new CaptureException("Could not read the primary key of relation " + relationId + ": " + e.getMessage(), e, true);
        }
    }

    private String[] convert(RelationInfo rel, Tuple t) {
        int n = Math.min(t.size(), rel.columnCount());
        String[] out = new String[rel.columnCount()];
        for (int i = 0; i < n; i++) {
            switch (t.kind(i)) {
                case Tuple.NULL -> out[i] = null;
                case Tuple.UNCHANGED_TOAST -> out[i] = PendingChange.UNCHANGED;
                default -> {
                    ColumnPolicy.Treatment treatment = rel.treatments()[i];
                    if (treatment == ColumnPolicy.Treatment.OMIT) {
                        out[i] = null;
                    } else if (treatment == ColumnPolicy.Treatment.MASK) {
                        out[i] = ColumnPolicy.MASKED_JSON;
                    } else {
                        out[i] = json(rel, i, t.text(i));
                    }
                }
            }
        }
        return out;
    }

    /**
     * One value as JSON. A value the current catalog cannot parse (a composite recorded before an
     * ALTER TYPE, say) is retried with a fresh catalog, then kept as a JSON string of its text,
     * with a warning: never dropped, never a reason to stop capturing.
     */
    private String json(RelationInfo rel, int column, String text) {
        int oid = rel.typeOids()[column];
        for (int attempt = 0; ; attempt++) {
            scratch.setLength(0);
            try {
                values.appendJson(scratch, oid, text);
                return scratch.toString();
            } catch (IllegalArgumentException | TypeLookupException e) {
                if (attempt == 0) {
                    types.invalidateAll();
                    continue;
                }
                log.warn("{}.{}.{}: cannot render a value of type {} as to_jsonb would ({}); storing its text as a JSON string",
                        rel.schema(), rel.table(), rel.names()[column], oid, e.getMessage());
                scratch.setLength(0);
                ValueConverter.appendJsonString(scratch, text);
                return scratch.toString();
            }
        }
    }

    private static String[] keyOnly(RelationInfo rel, String[] after) {
        String[] out = new String[after.length];
        for (int k : rel.keyColumns()) out[k] = after[k];
        return out;
    }

    /** The primary key as a JSON object, or null for a table without one. */
    static String key(RelationInfo rel, String[] values) {
        int[] keys = rel.keyColumns();
        if (keys.length == 0 || values == null) return null;
        StringBuilder sb = new StringBuilder(16 * keys.length + 2).append('{');
        for (int j = 0; j < keys.length; j++) {
            if (j > 0) sb.append(',');
            String v = values[keys[j]];
            sb.append(rel.quotedNames()[keys[j]]).append(':').append(v == null ? "null" : v);
        }
        return sb.append('}').toString();
    }

    static Instant toInstant(long pgMicros) {
        long micros = pgMicros + PG_EPOCH_MICROS;
        return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000L);
    }
}
