package io.annals.replication.master;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.annals.changelog.Sql;
import io.annals.replication.replica.LocalStore;
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
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongConsumer;

/**
 * Compares an entity's rows on the master with a replica's table, in chunks (memory stays
 * bounded): rows missing on the replica, rows whose revision there is older, and rows the replica
 * has that the master no longer has. With a publisher it sends exactly the fixes: a SYNC for each
 * missing or stale row, a DELETE (newer than the replica's row) for each row gone on the master.
 *
 * <pre>{@code
 * Diff.Result r = Diff.run(entity, source, state, replicaStore, handler, publisherOrNull, "svc", n -> { });
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
     * (to {@code queue}, or to every replica when null) unless it is null.
     */
    public static Result run(ResolvedEntity entity, DataSource source, DataSource state, LocalStore replica, MasterHandler messages,
                             Publisher publisher, String queue, LongConsumer progress) throws Exception {
        long[] counts = new long[4];
        List<String> missing = new ArrayList<>();
        List<String> stale = new ArrayList<>();
        List<String> extra = new ArrayList<>();
        String id = entity.cqrsId();
        Snapshot.stream(entity, source, state, null, messages, chunk -> {
            List<JsonNode> pks = chunk.stream().map(CqrsMessage::instancePk).toList();
            Map<String, Integer> have = replica.revisions(id, pks);
            List<CqrsMessage> fixes = new ArrayList<>();
            for (CqrsMessage m : chunk) {
                String k = CqrsWire.json(m.instancePk());
                Integer rev = have.get(k);
                if (rev == null) {
                    counts[0]++;
                    if (missing.size() < SAMPLES) missing.add(k);
                    fixes.add(m);
                } else if (rev < m.revision()) {
                    counts[1]++;
                    if (stale.size() < SAMPLES) stale.add(k + " (replica " + rev + ", master " + m.revision() + ")");
                    fixes.add(m);
                }
            }
            counts[3] += send(publisher, fixes, queue);
            progress.accept(counts[0] + counts[1]);
        });
        String keyColumn = entity.keyColumns().get(0);
        String type;
        try (Connection c = source.getConnection()) {
            type = SourceColumns.of(c, entity.entity().schema(), entity.entity().table()).get(keyColumn);
        }
        replica.keys(id, CHUNK, keys -> {
            Set<String> onMaster = existing(source, entity, keyColumn, type, keys);
            List<JsonNode> gone = keys.stream().filter(k -> !onMaster.contains(text(k))).toList();
            if (gone.isEmpty()) return;
            Map<String, Integer> replicaRevisions = replica.revisions(id, gone);
            List<String> goneTexts = gone.stream().map(CqrsWire::json).toList();
            Map<String, Revisions.State> states;
            try (Connection st = state.getConnection()) {
                states = Revisions.load(st, id, gone.stream().map(Revisions::keyText).toList());
            }
            List<CqrsMessage> fixes = new ArrayList<>();
            Instant now = Instant.now();
            for (int i = 0; i < gone.size(); i++) {
                counts[2]++;
                if (extra.size() < SAMPLES) extra.add(goneTexts.get(i));
                Revisions.State s = states.get(Revisions.keyText(gone.get(i)));
                int replicaRev = replicaRevisions.getOrDefault(goneTexts.get(i), 0);
                int rev = s != null && s.deleted() ? Math.max(s.revision(), replicaRev + 1) : replicaRev + 1;
                fixes.add(delete(entity, gone.get(i), rev, now));
            }
            counts[3] += send(publisher, fixes, queue);
        });
        return new Result(counts[0], counts[1], counts[2], counts[3], missing, stale, extra);
    }

    private static long send(Publisher publisher, List<CqrsMessage> fixes, String queue) throws Exception {
        if (publisher == null || fixes.isEmpty()) return 0;
        publisher.publish(fixes, queue);
        return fixes.size();
    }

    private static String text(JsonNode k) {
        return k.isTextual() ? k.textValue() : k.toString();
    }

    private static Set<String> existing(DataSource source, ResolvedEntity e, String keyColumn, String type, List<JsonNode> keys)
            throws Exception {
        Set<String> out = new HashSet<>();
        String col = Sql.identifier(keyColumn);
        try (Connection c = source.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT " + col + "::text FROM " + Sql.qualified(e.entity().schema(),
                     e.entity().table()) + " WHERE " + col + " = ANY(CAST(? AS text[])::" + Sql.identifier(type) + "[])")) {
            ps.setArray(1, c.createArrayOf("text", keys.stream().map(Diff::text).toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(rs.getString(1));
            }
        }
        return out;
    }

    private static CqrsMessage delete(ResolvedEntity e, JsonNode pk, int revision, Instant at) {
        ObjectNode data = JsonNodeFactory.instance.objectNode();
        data.set(e.keyFields().get(0), pk);
        data.put(CqrsMessage.REVISION, revision);
        data.put(CqrsMessage.UPDATED, PythonText.dateTime(at));
        return new CqrsMessage(SignalType.DELETE, e.cqrsId(), data, null, pk, null, 0, null, null);
    }
}
