package io.annals.projections;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.Json;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.changelog.feed.ChangeFeed;
import io.annals.context.ContextMessage;
import io.annals.projections.Projection.Columns;
import io.annals.projections.Projection.Dependency;
import io.annals.projections.Projection.Source;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Applies a projection's changes, batch by batch, in the transaction that also stores its feed's
 * checkpoint: what makes a read model exactly-once whatever crashes.
 *
 * <p>Within a batch the changes are planned in log order and then written together: the last
 * change of a key wins (the mapping replaces a key's rows, so an earlier change of the same key
 * in the batch would be overwritten anyway), a truncate drops what was planned for its type
 * before it, and each SQL mapping runs once per batch for all its changed keys.
 */
final class Runner {

    private static final Logger log = LoggerFactory.getLogger(Runner.class);

    /** The context key marking the projector's own writes, so that they are never fed back into it. */
    static final String CONTEXT_KEY = "annals.projection";
    /** Keys of one SQL mapping query, at most. */
    static final int CHUNK = 1_000;
    /** The advisory lock class of projections, beside the projection's name hash: repair and rebuild take it too. */
    private static final int LOCK_CLASS = 1_095_651_922;

    private final Bound b;
    private final Output output;
    private final DataSource outputDataSource;
    private final DataSource sourceDataSource;
    private final String marker;
    private final Counter applied;
    private final Counter quarantined;
    private Set<Position> discarded = new HashSet<>();
    /** Changes it halted at before (in this run or an earlier one): once one maps, it leaves the quarantine. */
    private final Set<Position> halted = new HashSet<>();
    private Connection source;

    Runner(Bound b, Output output, DataSource outputDataSource, DataSource sourceDataSource, MeterRegistry meters) {
        this.b = b;
        this.output = output;
        this.outputDataSource = outputDataSource;
        this.sourceDataSource = sourceDataSource;
        this.marker = marker(b.name(), null);
        this.applied = meters == null ? null : Counter.builder("annals.projection.applied").tag("projection", b.name())
                .description("source changes applied to the projection's read table").register(meters);
        this.quarantined = meters == null ? null : Counter.builder("annals.projection.quarantined").tag("projection", b.name())
                .description("changes the projection's mapping failed on").register(meters);
    }

    /** The context JSON the projector writes under ({@code {"annals.projection": name, ...}}). */
    static String marker(String projection, String purpose) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(CONTEXT_KEY, projection);
        if (purpose != null) m.put("annals.purpose", purpose);
        try {
            return Json.mapper().writeValueAsString(m);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Serialises the projector's batches with repair and rebuild's swap, and marks the
     * transaction's writes as the projector's (a context message, read by capture when the
     * target is itself captured).
     */
    static void begin(Connection tx, String projection, String context) throws SQLException {
        try (PreparedStatement ps = tx.prepareStatement("SELECT pg_advisory_xact_lock(?, hashtext(?)),"
                + " pg_logical_emit_message(true, ?, ?)")) {
            ps.setInt(1, LOCK_CLASS);
            ps.setString(2, projection);
            ps.setString(3, ContextMessage.PREFIX);
            ps.setString(4, context);
            ps.executeQuery().close();
        }
    }

    void loadQuarantine() throws SQLException {
        try (Connection c = outputDataSource.getConnection()) {
            discarded = Quarantine.discarded(c, b.name());
            for (QuarantinedChange q : Quarantine.list(c, b.name())) {
                if (q.policy() == FailurePolicy.HALT && !q.discarded()) halted.add(q.position());
            }
        }
    }

    /** The feed's handler. */
    void handle(List<ChangeRow> changes, Connection tx) throws Exception {
        begin(tx, b.name(), marker);
        Plan plan = new Plan();
        int own = 0;
        for (int i = 0; i < changes.size(); i++) {
            ChangeRow c = changes.get(i);
            if (isOwn(c)) {
                own++;
                continue;
            }
            Source s = b.source(c.schema(), c.table());
            boolean target = b.projection.target().table().is(c.schema(), c.table());
            if (target) noticeManualEdit(tx, c);
            if (s != null) {
                if (!plan(plan, s, c, i, tx)) {
                    flush(plan, tx);
                    throw new ChangeFeed.StopBefore(i, plan.failure);
                }
            } else if (!target) {
                for (Dependency d : b.dependencies(c.schema(), c.table())) plan.dependency(d, c);
            }
        }
        flush(plan, tx);
        if (applied != null) applied.increment(changes.size() - own);
    }

    private boolean isOwn(ChangeRow c) {
        // Cheap first: most changes carry no projection marker at all.
        if (!c.context().contains(CONTEXT_KEY)) return false;
        JsonNode ctx = json(c.context());
        return ctx != null && b.name().equals(ctx.path(CONTEXT_KEY).asText(null));
    }

    /** Plans one change of a canonical source; false when the projection must halt before it. */
    private boolean plan(Plan plan, Source s, ChangeRow c, int index, Connection tx) throws Exception {
        if (c.operation() == Operation.TRUNCATE) {
            plan.truncate(s);
            return true;
        }
        CanonicalKey key = CanonicalKey.of(s.canonicalType(), c.primaryKey());
        CanonicalKey oldKey = oldKey(s, c, key);
        if (s.isSql()) {
            plan.derive(s, key);
            if (oldKey != null) plan.derive(s, oldKey);
            return true;
        }
        if (discarded.contains(c.position())) return true; // discarded: its keys stay as they were, old key included
        if (oldKey != null) plan.put(oldKey, List.of());
        if (c.operation() == Operation.DELETE) {
            plan.put(key, List.of());
            return true;
        }
        try {
            // Masked and omitted columns hold a placeholder or nothing: they are left out of the images,
            // so a mapping that needs one fails (and quarantines the change) instead of writing "****".
            Map<String, Object> after = withheld(TextValues.image(c.after()), c.withheld());
            SourceChange change = new SourceChange(c.schema() + "." + c.table(), c.operation(), TextValues.image(c.primaryKey()),
                    withheld(TextValues.image(c.before()), c.withheld()), after, TextValues.image(c.context()), c.position(),
                    c.committedAt());
            plan.put(key, Derivation.call(b, s, key, change));
            // The set is not trimmed here: this transaction may still roll back.
            if (!halted.isEmpty() && halted.contains(c.position())) Quarantine.remove(tx, b.name(), c.position());
            return true;
        } catch (Derivation.MappingFailure e) {
            String error = e.getMessage();
            if (quarantined != null && !halted.contains(c.position())) quarantined.increment(); // once, not per retry
            if (b.projection.failurePolicy() == FailurePolicy.SKIP) {
                log.warn("Projection {}: skipped the change at {} ({}): {}", b.name(), c.position(), key.json(), error);
                Quarantine.put(tx, b.name(), c, key, error, FailurePolicy.SKIP);
                return true;
            }
            // Halt: recorded outside the batch's transaction, which commits only the changes before this one.
            try (Connection q = outputDataSource.getConnection()) {
                q.setAutoCommit(true);
                Quarantine.put(q, b.name(), c, key, error, FailurePolicy.HALT);
                discarded = Quarantine.discarded(q, b.name());
            }
            if (discarded.contains(c.position())) return true;
            halted.add(c.position());
            log.warn("Projection {}: halted at {} ({}): {}", b.name(), c.position(), key.json(), error);
            plan.failure = new Halted("Projection " + b.name() + " halted at change " + c.position() + " of "
                    + c.schema() + "." + c.table() + " " + key.json() + ": " + error + "; fix the mapping and it resumes"
                    + " (it retries), or discard the change: annals projections quarantine discard", e.getCause());
            return false;
        }
    }

    private static Map<String, Object> withheld(Map<String, Object> image, List<String> withheld) {
        if (withheld == null || withheld.isEmpty() || image.isEmpty()) return image;
        Map<String, Object> kept = new LinkedHashMap<>(image);
        kept.keySet().removeAll(withheld);
        return java.util.Collections.unmodifiableMap(kept);
    }

    /** Why a projection waits at a change: its mapping fails on it. */
    static final class Halted extends ProjectionException {
        private static final long serialVersionUID = 1L;

        Halted(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The key the row had before an update that changed its key, else null. */
    private CanonicalKey oldKey(Source s, ChangeRow c, CanonicalKey key) {
        if (c.operation() != Operation.UPDATE || c.before() == null) return null;
        JsonNode before = json(c.before());
        if (before == null) return null;
        List<String> keyColumns = b.sources.get(s.table()).primaryKey();
        com.fasterxml.jackson.databind.node.ObjectNode o = Json.mapper().createObjectNode();
        for (String k : keyColumns) {
            if (!before.has(k)) return null;
            o.set(k, before.get(k));
        }
        CanonicalKey old = CanonicalKey.of(s.canonicalType(), o.toString());
        return old.equals(key) ? null : old;
    }

    /**
     * A write to the target the projector did not make ("never modify denormalized rows by hand").
     * For computed columns, only a change of those columns counts; the source's change itself
     * re-derives them anyway.
     */
    private void noticeManualEdit(Connection tx, ChangeRow c) throws SQLException {
        if (b.projection.target() instanceof Columns cols) {
            if (c.operation() != Operation.UPDATE || c.changedColumns() == null
                    || c.changedColumns().stream().noneMatch(cols.columns()::contains)) {
                return;
            }
            Quarantine.recordManualEdit(tx, b.name(), c, b.projection.sources().get(0).canonicalType(),
                    CanonicalKey.normal(c.primaryKey()));
        } else {
            JsonNode image = json(c.after() != null ? c.after() : c.before());
            String type = image == null ? null : image.path(Bound.CANONICAL_TYPE).asText(null);
            JsonNode pk = image == null ? null : image.get(Bound.CANONICAL_PK);
            Quarantine.recordManualEdit(tx, b.name(), c, type, pk == null ? null : pk.toString());
        }
        log.warn("Projection {}: {} of {}.{} at {} was not made by the projector (context {}); verify and repair it",
                b.name(), c.operation(), c.schema(), c.table(), c.position(), c.context());
    }

    private static JsonNode json(String text) {
        if (text == null) return null;
        try {
            return Json.exact(Json.mapper().reader()).readTree(text);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ProjectionException("A change in the log holds JSON that does not parse (" + e.getOriginalMessage()
                    + "): " + (text.length() > 200 ? text.substring(0, 200) + "..." : text), e);
        }
    }

    /** Writes what {@code plan} holds, in {@code tx}. */
    private void flush(Plan plan, Connection tx) throws Exception {
        if (plan.isEmpty()) return;
        Connection src = sourceConnection(tx);
        for (String type : plan.truncated) output.removeType(tx, type);
        for (Source s : plan.everything) {
            // A dependency was truncated: every key of the source is derived again.
            output.removeType(tx, s.canonicalType());
            Derivation.allKeys(src, b, s, CHUNK, keys -> output.replace(tx, Derivation.query(src, b, s, keys)));
        }
        // Dependency queries name the canonical keys their changed rows affect, now.
        for (Map.Entry<Dependency, List<CanonicalKey>> e : plan.dependencyKeys.entrySet()) {
            Dependency d = e.getKey();
            Source s = sourceFor(d);
            for (int from = 0; from < e.getValue().size(); from += CHUNK) {
                List<CanonicalKey> chunk = e.getValue().subList(from, Math.min(e.getValue().size(), from + CHUNK));
                try (PreparedStatement ps = Derivation.prepare(src, d.query(), chunk);
                     java.sql.ResultSet rs = ps.executeQuery()) {
                    String keyColumn = b.sources.get(s.table()).primaryKey().size() == 1
                            ? b.sources.get(s.table()).primaryKey().get(0) : null;
                    while (rs.next()) {
                        Object v = rs.getObject(1);
                        if (v == null) continue;
                        String text = rs.getString(1);
                        if (!text.startsWith("{") && keyColumn == null) {
                            throw new ProjectionException("Projection " + b.name() + ": the dependency query for " + d.table()
                                    + " returned " + text + ", but " + s.table() + " has a key of several columns; return"
                                    + " the key as an object, e.g. SELECT jsonb_build_object('a', a, 'b', b) FROM ...");
                        }
                        CanonicalKey k = text.startsWith("{") ? CanonicalKey.of(s.canonicalType(), text)
                                : CanonicalKey.ofValue(s.canonicalType(), keyColumn,
                                v instanceof Number ? text : Json.mapper().writeValueAsString(text));
                        plan.derive(s, k);
                    }
                }
            }
        }
        output.replace(tx, plan.rows);
        // Chunk by chunk: a dependency can fan out to many keys (a renamed customer, every invoice of it).
        for (Map.Entry<Source, Set<CanonicalKey>> e : plan.derive.entrySet()) {
            if (plan.everything.contains(e.getKey())) continue;
            List<CanonicalKey> keys = new ArrayList<>(e.getValue());
            for (int from = 0; from < keys.size(); from += CHUNK) {
                output.replace(tx, Derivation.query(src, b, e.getKey(), keys.subList(from, Math.min(keys.size(), from + CHUNK))));
            }
        }
    }

    private Source sourceFor(Dependency d) {
        for (Source s : b.projection.sources()) if (s.table().equals(d.canonical())) return s;
        throw new IllegalStateException("no source " + d.canonical());
    }

    /** The connection SQL mappings read the source through: the batch's own when they are one database. */
    private Connection sourceConnection(Connection tx) throws SQLException {
        if (b.sameDatabase) return tx;
        if (source == null || source.isClosed() || !source.isValid(2)) {
            closeSource();
            source = sourceDataSource.getConnection();
            source.setAutoCommit(true);
        }
        return source;
    }

    void closeSource() {
        if (source == null) return;
        try {
            source.close();
        } catch (SQLException ignored) {
            // Nothing was written through it.
        }
        source = null;
    }

    /** What a batch will write. */
    private final class Plan {
        final Map<CanonicalKey, List<Map<String, Object>>> rows = new LinkedHashMap<>();
        final Map<Source, Set<CanonicalKey>> derive = new LinkedHashMap<>();
        final Map<Dependency, List<CanonicalKey>> dependencyKeys = new LinkedHashMap<>();
        final Set<String> truncated = new LinkedHashSet<>();
        final Set<Source> everything = new LinkedHashSet<>();
        Exception failure;

        boolean isEmpty() {
            return rows.isEmpty() && derive.isEmpty() && dependencyKeys.isEmpty() && truncated.isEmpty() && everything.isEmpty();
        }

        void put(CanonicalKey key, List<Map<String, Object>> keyRows) {
            rows.remove(key); // keeps insertion order = the order of each key's last change
            rows.put(key, keyRows);
        }

        void derive(Source s, CanonicalKey key) {
            derive.computeIfAbsent(s, x -> new LinkedHashSet<>()).add(key);
        }

        void truncate(Source s) {
            rows.keySet().removeIf(k -> k.type().equals(s.canonicalType()));
            Set<CanonicalKey> pending = derive.get(s);
            if (pending != null) pending.clear();
            if (s.isSql() && b.projection.target() instanceof Columns) return;
            truncated.add(s.canonicalType());
        }

        void dependency(Dependency d, ChangeRow c) {
            Source s = sourceFor(d);
            if (c.operation() == Operation.TRUNCATE) {
                everything.add(s);
                return;
            }
            if (d.keyColumn() != null) {
                String keyColumn = b.sources.get(s.table()).primaryKey().get(0);
                for (String image : new String[]{c.before(), c.after()}) {
                    JsonNode n = json(image);
                    JsonNode v = n == null ? null : n.get(d.keyColumn());
                    if (v != null && !v.isNull()) derive(s, CanonicalKey.ofValue(s.canonicalType(), keyColumn, v.toString()));
                }
                return;
            }
            dependencyKeys.computeIfAbsent(d, x -> new ArrayList<>()).add(CanonicalKey.of(d.table().toString(), c.primaryKey()));
        }
    }
}
