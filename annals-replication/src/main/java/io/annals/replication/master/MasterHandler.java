package io.annals.replication.master;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.Operation;
import io.annals.changelog.feed.ChangeFeed;
import io.annals.replication.wire.CqrsMessage;
import io.annals.replication.wire.PythonText;
import io.annals.replication.wire.SignalType;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Turns each batch of the master's change feed into django-cqrs messages, in commit order: gives
 * every change of a row the next revision, stores the revisions in the feed's transaction, and
 * publishes with confirms before the feed commits its checkpoint. A failure anywhere (broker down,
 * source unreachable) throws, the feed rolls the batch back and tries it again later: nothing is
 * lost, and a batch published twice carries the same revisions.
 *
 * <pre>{@code
 * MasterHandler h = new MasterHandler(entities, sourceDataSource, publisher, Duration.ofDays(1));
 * ChangeFeed.from(log).named("cqrs-master").tables(h.tables().toArray(String[]::new)).startTransactional(stateDs, h);
 * }</pre>
 */
public final class MasterHandler implements ChangeFeed.TransactionalHandler, AutoCloseable {

    /** What one change asks of an entity, before it has a revision. */
    sealed interface Event permits Save, Delete, Truncate {
        ResolvedEntity entity();
    }

    /**
     * A saved row: {@code fields} null when it is not sent (filtered by is_sync, or gone by now);
     * {@code image} its fields from the change's row image, {@code before} from the old image if the
     * change log has one (else the tracked fields stored with the revision stand in for it).
     */
    record Save(ResolvedEntity entity, JsonNode pk, String key, ObjectNode fields, ObjectNode image, ObjectNode before, Instant at)
            implements Event {
    }

    record Delete(ResolvedEntity entity, JsonNode pk, String key, Instant at) implements Event {
    }

    /** Takes each message as soon as it is made. */
    @FunctionalInterface
    interface Sink {
        void accept(CqrsMessage m) throws java.io.IOException, java.util.concurrent.TimeoutException;
    }

    record Truncate(ResolvedEntity entity, Instant at) implements Event {
    }

    private final Map<String, List<ResolvedEntity>> byTable = new HashMap<>();
    private final Map<String, List<Map.Entry<ResolvedEntity, String>>> byRelatedTable = new HashMap<>();
    private final DataSource sourceDataSource;
    private final Publisher publisher;
    private final Duration expiresAfter;
    private final AtomicLong published = new AtomicLong();
    private Connection source;

    public MasterHandler(List<ResolvedEntity> entities, DataSource source, Publisher publisher, Duration expiresAfter) {
        for (ResolvedEntity e : entities) {
            byTable.computeIfAbsent(e.entity().qualifiedTable(), t -> new ArrayList<>()).add(e);
            for (Map.Entry<String, String> r : e.entity().related().entrySet()) {
                byRelatedTable.computeIfAbsent(r.getKey(), t -> new ArrayList<>()).add(Map.entry(e, r.getValue()));
            }
        }
        this.sourceDataSource = source;
        this.publisher = publisher;
        this.expiresAfter = expiresAfter;
    }

    /** Every table whose changes the master reads: the entities' tables and their related tables. */
    public Set<String> tables() {
        Set<String> t = new LinkedHashSet<>(byTable.keySet());
        t.addAll(byRelatedTable.keySet());
        return t;
    }

    /** How many messages the broker has confirmed (a batch sent again after a failure counts again). */
    public long published() {
        return published.get();
    }

    @Override
    public void handle(List<ChangeRow> changes, Connection tx) throws Exception {
        List<Event> events = new ArrayList<>();
        try {
            for (ChangeRow c : changes) collect(c, events);
        } catch (SQLException e) {
            closeSource(); // it may be broken; the next try opens a new one
            throw e;
        }
        if (events.isEmpty()) return;
        Map<String, Map<String, Revisions.State>> changed = new HashMap<>();
        // Each message goes to the broker as soon as it is made, so that the broker persists the batch while the rest is
        // made; the revisions are written while it finishes; both commit only after its confirms.
        int[] sent = {0};
        try {
            assign(tx, events, changed, m -> {
                publisher.send(m, null);
                sent[0]++;
            });
        } catch (Exception e) {
            publisher.abandon();
            throw e;
        }
        publisher.confirm(() -> {
            for (Map.Entry<String, Map<String, Revisions.State>> e : changed.entrySet()) Revisions.store(tx, e.getKey(), e.getValue());
        });
        published.addAndGet(sent[0]);
    }

    private void collect(ChangeRow c, List<Event> events) throws SQLException {
        String table = c.schema() + "." + c.table();
        JsonNode key = c.primaryKey() == null ? null : ResolvedEntity.readJson(c.primaryKey());
        JsonNode after = c.after() == null ? null : ResolvedEntity.readJson(c.after());
        JsonNode before = c.before() == null ? null : ResolvedEntity.readJson(c.before());
        Instant at = c.committedAt();
        for (ResolvedEntity e : byTable.getOrDefault(table, List.of())) {
            switch (c.operation()) {
                case TRUNCATE -> events.add(new Truncate(e, at));
                case DELETE -> {
                    JsonNode pk = e.instancePk(before != null ? before : key);
                    events.add(new Delete(e, pk, Revisions.keyText(pk), at));
                }
                case CREATE, SNAPSHOT, UPDATE -> {
                    if (after == null) continue;
                    JsonNode pk = e.instancePk(after);
                    if (before != null && !e.instancePk(before).equals(pk)) {
                        JsonNode old = e.instancePk(before);
                        events.add(new Delete(e, old, Revisions.keyText(old), at));
                    }
                    ObjectNode image = e.fieldsOf(after);
                    ObjectNode fields = e.entity().query() != null ? e.query(source(), after) : image;
                    boolean send = fields != null && e.entity().syncIf().test(fields);
                    ObjectNode old = c.operation() == Operation.UPDATE && before != null && e.complete(before) ? e.fieldsOf(before) : null;
                    events.add(new Save(e, pk, Revisions.keyText(pk), send ? fields : null, image, old, at));
                }
            }
        }
        for (Map.Entry<ResolvedEntity, String> r : byRelatedTable.getOrDefault(table, List.of())) {
            if (key == null) continue; // a TRUNCATE of a related table names no row; sync the entity to refresh it
            ResolvedEntity e = r.getKey();
            for (ObjectNode k : e.relatedKeys(source(), r.getValue(), key)) {
                ObjectNode fields = e.query(source(), k);
                if (fields == null) continue;
                boolean send = e.entity().syncIf().test(fields);
                JsonNode pk = e.instancePk(k);
                events.add(new Save(e, pk, Revisions.keyText(pk), send ? fields : null, fields, null, at));
            }
        }
    }

    /** Gives each event its revision, collects the new states in {@code changed}, and gives the messages to send to {@code out}. */
    private void assign(Connection tx, List<Event> events, Map<String, Map<String, Revisions.State>> changed, Sink out)
            throws SQLException, java.io.IOException, java.util.concurrent.TimeoutException {
        Map<String, Set<String>> keys = new LinkedHashMap<>();
        for (Event ev : events) {
            Set<String> k = keys.computeIfAbsent(ev.entity().cqrsId(), id -> new LinkedHashSet<>());
            if (ev instanceof Save s) k.add(s.key());
            else if (ev instanceof Delete d) k.add(d.key());
        }
        Map<String, Map<String, Revisions.State>> states = new HashMap<>();
        for (Map.Entry<String, Set<String>> e : keys.entrySet()) states.put(e.getKey(), Revisions.load(tx, e.getKey(), e.getValue()));
        for (Event ev : events) {
            String id = ev.entity().cqrsId();
            Map<String, Revisions.State> known = states.get(id);
            Map<String, Revisions.State> dirty = changed.computeIfAbsent(id, x -> new HashMap<>());
            switch (ev) {
                case Save s -> {
                    String k = s.key();
                    Revisions.State last = known.get(k);
                    JsonNode before = s.before() != null ? s.before()
                            : last != null && !last.deleted() && last.tracked() != null ? ResolvedEntity.readJson(last.tracked()) : null;
                    Revisions.State next = new Revisions.State(Revisions.next(last, id, k), false, s.at(), s.entity().tracked(s.image()));
                    known.put(k, next);
                    dirty.put(k, next);
                    if (s.fields() != null) {
                        out.accept(save(SignalType.SAVE, s.entity(), s.pk(), s.fields(), s.entity().previousData(s.image(), before), next));
                    }
                }
                case Delete d -> {
                    String k = d.key();
                    Revisions.State next = new Revisions.State(Revisions.next(known.get(k), id, k), true, d.at(), null);
                    known.put(k, next);
                    dirty.put(k, next);
                    out.accept(delete(d.entity(), d.pk(), next));
                }
                case Truncate t -> {
                    for (Map.Entry<String, Revisions.State> live : Revisions.live(tx, id).entrySet()) {
                        known.putIfAbsent(live.getKey(), live.getValue());
                    }
                    for (Map.Entry<String, Revisions.State> e : new ArrayList<>(known.entrySet())) {
                        if (e.getValue().deleted()) continue;
                        Revisions.State next = new Revisions.State(Revisions.next(e.getValue(), id, e.getKey()), true, t.at(), null);
                        known.put(e.getKey(), next);
                        dirty.put(e.getKey(), next);
                        out.accept(delete(t.entity(), ResolvedEntity.readJson(e.getKey()), next));
                    }
                }
            }
        }
    }

    /**
     * A SAVE or SYNC message: revision and update time first, then the fields, as django-cqrs
     * orders them. A SAVE expires a day (by default) after its commit; a SYNC, which re-sends a row
     * as it is now, a day after it is sent, as django-cqrs' sync does: a row last changed a week
     * ago must not arrive expired.
     */
    CqrsMessage save(SignalType type, ResolvedEntity e, JsonNode pk, ObjectNode fields, ObjectNode previous, Revisions.State state) {
        ObjectNode data = JsonNodeFactory.instance.objectNode();
        data.put(CqrsMessage.REVISION, state.revision());
        data.put(CqrsMessage.UPDATED, PythonText.dateTime(state.updated()));
        for (var it = fields.properties().iterator(); it.hasNext(); ) {
            var f = it.next();
            if (!f.getKey().equals(CqrsMessage.REVISION) && !f.getKey().equals(CqrsMessage.UPDATED)) data.set(f.getKey(), f.getValue());
        }
        Instant from = type == SignalType.SYNC ? Instant.now() : state.updated();
        return new CqrsMessage(type, e.cqrsId(), data, previous, pk, null, 0, expires(from), null);
    }

    /** A DELETE: the key by field name, then revision and time, as django-cqrs sends it. */
    private CqrsMessage delete(ResolvedEntity e, JsonNode pk, Revisions.State state) {
        ObjectNode data = JsonNodeFactory.instance.objectNode();
        List<String> keyFields = e.keyFields();
        if (keyFields.size() == 1) data.set(keyFields.get(0), pk);
        else for (String f : keyFields) data.set(f, pk.get(f));
        data.put(CqrsMessage.REVISION, state.revision());
        data.put(CqrsMessage.UPDATED, PythonText.dateTime(state.updated()));
        return new CqrsMessage(SignalType.DELETE, e.cqrsId(), data, null, pk, null, 0, expires(state.updated()), null);
    }

    private Instant expires(Instant committed) {
        return expiresAfter == null ? null : committed.plus(expiresAfter);
    }

    private Connection source() throws SQLException {
        if (source == null || source.isClosed()) {
            source = sourceDataSource.getConnection();
            source.setAutoCommit(true);
            source.setReadOnly(true);
        }
        return source;
    }

    private void closeSource() {
        if (source != null) {
            try {
                source.close();
            } catch (SQLException ignored) {
                // broken already
            }
        }
        source = null;
    }

    @Override
    public void close() {
        closeSource();
        publisher.close();
    }
}
