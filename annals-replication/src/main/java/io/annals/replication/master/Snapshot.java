package io.annals.replication.master;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.annals.changelog.Json;
import io.annals.changelog.Sql;
import io.annals.replication.ReplicationException;
import io.annals.replication.wire.CqrsMessage;
import io.annals.replication.wire.SignalType;

import javax.sql.DataSource;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The rows of an entity as they are now, read in one consistent snapshot and streamed in chunks
 * (bounded memory), each as the SYNC message a master sends for it, with the row's revision and
 * update time as the master last sent them: for {@code sync}, {@code dump} and {@code diff}.
 *
 * <pre>{@code
 * long n = Snapshot.stream(entity, source, state, "{\"active\": true}", handler, chunk -> publisher.publish(chunk, null));
 * }</pre>
 */
public final class Snapshot {

    /** Receives one chunk of messages at a time. */
    @FunctionalInterface
    public interface Chunk {
        void accept(List<CqrsMessage> messages) throws Exception;
    }

    private static final int CHUNK = 1_000;

    private Snapshot() {
    }

    /**
     * Streams the rows of {@code entity} whose {@code to_jsonb} contains {@code filter} (a JSON
     * object of column values; null for all) to {@code sink}, {@value #CHUNK} at a time.
     *
     * @return the number of messages
     */
    public static long stream(ResolvedEntity entity, DataSource source, DataSource state, String filter, MasterHandler messages,
                              Chunk sink) throws Exception {
        JsonNode filterNode = parseFilter(entity, filter);
        try (Connection src = source.getConnection(); Connection st = state.getConnection()) {
            src.setAutoCommit(false);
            src.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            src.setReadOnly(true);
            Set<String> columns = SourceColumns.of(src, entity.entity().schema(), entity.entity().table()).keySet();
            for (java.util.Iterator<String> it = filterNode == null ? List.<String>of().iterator() : filterNode.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (!columns.contains(f)) {
                    throw new ReplicationException("The filter names " + f + ", which is not a column of " + entity.entity().qualifiedTable()
                            + "; its columns are " + columns);
                }
            }
            String sql = "SELECT to_jsonb(t)::text FROM " + Sql.qualified(entity.entity().schema(), entity.entity().table()) + " t"
                    + (filterNode == null ? "" : " WHERE to_jsonb(t) @> ?::jsonb");
            long n = 0;
            try (PreparedStatement ps = src.prepareStatement(sql)) {
                ps.setFetchSize(CHUNK);
                if (filterNode != null) ps.setString(1, filterNode.toString());
                try (ResultSet rs = ps.executeQuery()) {
                    List<JsonNode> rows = new ArrayList<>(CHUNK);
                    while (rs.next()) {
                        rows.add(ResolvedEntity.readJson(rs.getString(1)));
                        if (rows.size() == CHUNK) {
                            n += flush(entity, rows, src, st, messages, sink);
                            rows.clear();
                        }
                    }
                    n += flush(entity, rows, src, st, messages, sink);
                }
            }
            src.commit();
            return n;
        }
    }

    /**
     * How many rows of {@code entity} match {@code filter} (null: all), for a progress display's
     * total; rows its {@code is_sync} leaves out are counted too.
     */
    public static long count(ResolvedEntity entity, DataSource source, String filter) throws SQLException {
        JsonNode filterNode = parseFilter(entity, filter);
        try (Connection src = source.getConnection();
             PreparedStatement ps = src.prepareStatement("SELECT count(*) FROM " + Sql.qualified(entity.entity().schema(),
                     entity.entity().table()) + " t" + (filterNode == null ? "" : " WHERE to_jsonb(t) @> ?::jsonb"))) {
            if (filterNode != null) ps.setString(1, filterNode.toString());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private static long flush(ResolvedEntity e, List<JsonNode> rows, Connection src, Connection st, MasterHandler messages, Chunk sink)
            throws Exception {
        if (rows.isEmpty()) return 0;
        List<String> keys = new ArrayList<>(rows.size());
        for (JsonNode r : rows) keys.add(Revisions.keyText(e.instancePk(r)));
        Map<String, Revisions.State> states = Revisions.load(st, e.cqrsId(), keys);
        List<CqrsMessage> out = new ArrayList<>(rows.size());
        Instant now = Instant.now();
        for (int i = 0; i < rows.size(); i++) {
            JsonNode row = rows.get(i);
            ObjectNode fields = e.entity().query() != null ? e.query(src, row) : e.fieldsOf(row);
            if (fields == null || !e.entity().syncIf().test(fields)) continue;
            Revisions.State s = states.get(keys.get(i));
            if (s == null || s.deleted()) s = new Revisions.State(s == null ? 0 : s.revision(), false, now, null);
            out.add(messages.save(SignalType.SYNC, e, e.instancePk(row), fields, null, s));
        }
        sink.accept(out);
        return out.size();
    }

    private static JsonNode parseFilter(ResolvedEntity e, String filter) {
        if (filter == null || filter.isBlank()) return null;
        JsonNode node;
        try {
            node = Json.mapper().readTree(filter);
        } catch (IOException ex) {
            throw new ReplicationException("The filter is not JSON: " + filter + "; give a JSON object of column values,"
                    + " e.g. {\"id\": 1} or {\"status\": \"active\"}", ex);
        }
        if (node == null || !node.isObject()) {
            throw new ReplicationException("The filter must be a JSON object of column values, e.g. {\"id\": 1}; got " + filter);
        }
        return node;
    }
}
