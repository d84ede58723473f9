package io.annals.projections;

import io.annals.changelog.Json;
import io.annals.events.RecordedEvent;
import io.annals.projections.Projection.EventSource;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Folds a projection's events into their streams' read rows, in the transaction in which the
 * event store's subscription stores its checkpoint: the same exactly-once rule as for changes.
 */
final class EventRunner {

    private final Bound b;
    private final Output output;
    private final String marker;

    EventRunner(Bound b) {
        this.b = b;
        this.output = Output.of(b);
        this.marker = Runner.marker(b.name(), null);
    }

    void handle(RecordedEvent event, Connection tx) throws Exception {
        boolean begun = false;
        for (EventSource es : b.projection.eventSources()) {
            if (es.streamType() != null && !es.streamType().equals(event.streamType())) continue;
            if (!begun) {
                Runner.begin(tx, b.name(), marker);
                begun = true;
            }
            CanonicalKey key = CanonicalKey.ofValue(es.canonicalType(), "stream_id", Json.mapper().writeValueAsString(event.streamId()));
            List<Map<String, Object>> rows;
            try {
                rows = es.mapper().apply(event, current(tx, key));
            } catch (Exception | LinkageError | AssertionError e) {
                throw new ProjectionException("Projection " + b.name() + ": its event mapping threw on event " + event.eventId()
                        + " (" + event.type() + " of stream " + event.streamId() + "): " + e, e);
            }
            if (rows == null) {
                throw new ProjectionException("Projection " + b.name() + ": its event mapping returned null for event "
                        + event.eventId() + "; return List.of() to remove the stream's rows");
            }
            for (Map<String, Object> row : rows) {
                for (String col : row.keySet()) {
                    if (b.target.column(col) == null || col.equals(Bound.CANONICAL_TYPE) || col.equals(Bound.CANONICAL_PK)) {
                        throw new ProjectionException("Projection " + b.name() + ": its event mapping returned column " + col
                                + ", which it cannot write to " + b.target.ref() + "; its columns are " + b.target.columns().keySet());
                    }
                }
            }
            Map<CanonicalKey, List<Map<String, Object>>> replace = new LinkedHashMap<>();
            replace.put(key, rows);
            output.replace(tx, replace);
        }
    }

    /** The stream's read rows now, without the canonical and generated columns the projector fills. */
    private List<Map<String, Object>> current(Connection tx, CanonicalKey key) throws SQLException {
        StringBuilder drop = new StringBuilder(" - 'canonical_type' - 'canonical_pk'");
        for (TableInfo.Column c : b.target.columns().values()) {
            if (c.generated()) drop.append(" - ").append(io.annals.changelog.Sql.literal(c.name()));
        }
        List<Map<String, Object>> out = new ArrayList<>();
        try (PreparedStatement ps = tx.prepareStatement("SELECT (to_jsonb(r)" + drop + ")::text FROM " + b.target.ref().sql()
                + " r WHERE canonical_type = ? AND canonical_pk = ?::" + (b.jsonKey ? "jsonb" : "text"))) {
            ps.setString(1, key.type());
            ps.setString(2, b.jsonKey ? key.json() : key.text());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(new LinkedHashMap<>(TextValues.image(rs.getString(1))));
            }
        }
        return out;
    }
}
