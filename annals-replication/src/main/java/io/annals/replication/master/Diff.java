package io.annals.replication.master;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.annals.changelog.Sql;
import io.annals.replication.replica.ReplicaRows;
import io.annals.replication.wire.CqrsMessage;
import io.annals.replication.wire.CqrsWire;
import io.annals.replication.wire.PythonText;
import io.annals.replication.wire.SignalType;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * Compares an entity's rows on the master with a replica's table, in chunks (memory stays
 * bounded): rows missing on the replica, rows whose revision there is older, and rows the replica
 * has that the master no longer has. Keys of one column or of several. With a publisher it sends
 * exactly the fixes: a SYNC for each missing or stale row, a DELETE (newer than the replica's row)
 * for each row gone on the master.
 *
 * <pre>{@code
 * Diff.Result r = Diff.run(entity, source, state, ReplicaRows.open(replicaDs, table), handler, publisherOrNull, "svc", n -> { });
 * }</pre>
 */
public final class Diff {

    /** What a diff found (and sent), with up to {@value #SAMPLES} keys of each kind to show. */
    public record Result(long missing, long stale, long extra, long sent, List<String> missingKeys, List<String> staleKeys,
                         List<String> extraKeys) {
    }

    static final int SAMPLES = 20;
    private static final int CHUNK = 1_000;

    private Diff() {
    }

    /**
     * Runs the diff of {@code entity} against {@code replica}; sends the fixes through {@code publisher}
     * (to {@code queue}, or to every replica when null) unless it is null. {@code progress} gets the
     * number of rows compared so far, master rows first, then replica rows.
     */
    public static Result run(ResolvedEntity entity, DataSource source, DataSource state, ReplicaRows replica, MasterHandler messages,
                             Publisher publisher, String queue, LongConsumer progress) throws Exception {
        long[] counts = new long[5]; // missing, stale, extra, sent, compared
        List<String> missing = new ArrayList<>();
        List<String> stale = new ArrayList<>();
        List<String> extra = new ArrayList<>();
        String id = entity.cqrsId();
        Snapshot.stream(entity, source, state, null, messages, chunk -> {
            Integer[] have = replica.revisions(chunk.stream().map(CqrsMessage::instancePk).toList());
            List<CqrsMessage> fixes = new ArrayList<>();
            for (int i = 0; i < chunk.size(); i++) {
                CqrsMessage m = chunk.get(i);
                Integer rev = have[i];
                if (rev == null) {
                    counts[0]++;
                    if (missing.size() < SAMPLES) missing.add(CqrsWire.json(m.instancePk()));
                    fixes.add(m);
                } else if (rev < m.revision()) {
                    counts[1]++;
                    if (stale.size() < SAMPLES) stale.add(CqrsWire.json(m.instancePk()) + " (replica " + rev + ", master " + m.revision() + ")");
                    fixes.add(m);
                }
            }
            counts[3] += send(publisher, fixes, queue);
            counts[4] += chunk.size();
            progress.accept(counts[4]);
        });
        replica.keys(entity.keyFields(), CHUNK, keys -> {
            boolean[] onMaster = existing(source, entity, keys);
            List<JsonNode> gone = new ArrayList<>();
            for (int i = 0; i < keys.size(); i++) if (!onMaster[i]) gone.add(keys.get(i));
            counts[4] += keys.size();
            if (!gone.isEmpty()) {
                Integer[] replicaRevisions = replica.revisions(gone);
                Map<String, Revisions.State> states;
                try (Connection st = state.getConnection()) {
                    states = Revisions.load(st, id, gone.stream().map(Revisions::keyText).toList());
                }
                List<CqrsMessage> fixes = new ArrayList<>();
                Instant now = Instant.now();
                for (int i = 0; i < gone.size(); i++) {
                    counts[2]++;
                    if (extra.size() < SAMPLES) extra.add(CqrsWire.json(gone.get(i)));
                    Revisions.State s = states.get(Revisions.keyText(gone.get(i)));
                    int replicaRev = replicaRevisions[i] == null ? 0 : replicaRevisions[i];
                    int rev = s != null && s.deleted() ? Math.max(s.revision(), replicaRev + 1) : replicaRev + 1;
                    fixes.add(delete(entity, gone.get(i), rev, now));
                }
                counts[3] += send(publisher, fixes, queue);
            }
            progress.accept(counts[4]);
        });
        return new Result(counts[0], counts[1], counts[2], counts[3], missing, stale, extra);
    }

    private static long send(Publisher publisher, List<CqrsMessage> fixes, String queue) throws Exception {
        if (publisher == null || fixes.isEmpty()) return 0;
        publisher.publish(fixes, queue);
        return fixes.size();
    }

    /**
     * Which of {@code keys} (as {@code instance_pk}s) the master's table has, in their order: the
     * keys travel as one JSON array of objects of key columns, read by the server as the table's
     * row type, so that every key type converts as PostgreSQL converts it.
     */
    private static boolean[] existing(DataSource source, ResolvedEntity e, List<JsonNode> keys) throws Exception {
        List<String> columns = e.keyColumns();
        List<String> fields = e.keyFields();
        ArrayNode array = JsonNodeFactory.instance.arrayNode();
        for (JsonNode k : keys) {
            ObjectNode row = array.addObject();
            if (columns.size() == 1) row.set(columns.get(0), k);
            else for (int i = 0; i < columns.size(); i++) row.set(columns.get(i), k.get(fields.get(i)));
        }
        String table = Sql.qualified(e.entity().schema(), e.entity().table());
        List<String> match = columns.stream().map(c -> "t." + Sql.identifier(c) + " = r." + Sql.identifier(c)).toList();
        boolean[] out = new boolean[keys.size()];
        try (Connection c = source.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT k.ord FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS k(j, ord)"
                     + " CROSS JOIN LATERAL jsonb_populate_record(NULL::" + table + ", k.j) AS r"
                     + " WHERE EXISTS (SELECT 1 FROM " + table + " t WHERE " + String.join(" AND ", match) + ")")) {
            ps.setString(1, array.toString());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out[(int) rs.getLong(1) - 1] = true;
            }
        }
        return out;
    }

    private static CqrsMessage delete(ResolvedEntity e, JsonNode pk, int revision, Instant at) {
        ObjectNode data = JsonNodeFactory.instance.objectNode();
        List<String> fields = e.keyFields();
        if (fields.size() == 1) data.set(fields.get(0), pk);
        else for (String f : fields) data.set(f, pk.get(f));
        data.put(CqrsMessage.REVISION, revision);
        data.put(CqrsMessage.UPDATED, PythonText.dateTime(at));
        return new CqrsMessage(SignalType.DELETE, e.cqrsId(), data, null, pk, null, 0, null, null);
    }
}
