package io.annals.projections;

import io.annals.changelog.ChangeLog;
import io.annals.changelog.Json;
import io.annals.changelog.Position;
import io.annals.changelog.Sql;
import io.annals.changelog.feed.ChangeFeed;
import io.annals.context.ContextMessage;
import io.annals.events.EventStore;
import io.annals.events.subscription.Subscription;
import io.annals.projections.Projection.Columns;
import io.annals.projections.Projection.Source;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.flywaydb.core.Flyway;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The projections facade: runs projections on the change feed, and verifies, repairs and
 * rebuilds their read tables. Configure where things are once; every method takes the
 * {@link Projection} it works on.
 *
 * <pre>{@code
 * Projections projections = Projections.over(ChangeLog.at(logDataSource))
 *         .source(appDataSource)      // the captured database (default: the change log's)
 *         .output(readDataSource)     // where the read tables live (default: the source)
 *         .build();
 * try (RunningProjection running = projections.start(journal)) {
 *     ...
 * }
 * VerifyReport report = projections.verify(journal);
 * if (!report.consistent()) projections.repair(journal);
 * }</pre>
 *
 * <h2>Guarantees</h2>
 * Each projection reads the change log through its own {@linkplain ChangeFeed feed} (named
 * {@code projection:<name>}), in log order, and writes each batch in one transaction with the
 * feed's checkpoint, in the output database: a crash at any point loses no change and applies
 * none twice. Changes of one canonical key are applied in commit order, so two concurrent edits
 * always end at the one that committed last, with no application lock. The projector's writes
 * carry {@code {"annals.projection": name}} as their context, so that, where the target is itself
 * captured, they are told apart from manual edits and never fed back into the projection.
 */
public final class Projections {

    /**
     * Reports a long task's progress: {@code done} of {@code total} canonical rows.
     *
     * <pre>{@code
     * projections.rebuild(journal, (done, total) -> System.err.printf("%d of %d%n", done, total));
     * }</pre>
     */
    @FunctionalInterface
    public interface Progress {
        void update(long done, long total);

        /** Reports nothing. */
        static Progress none() {
            return (done, total) -> { };
        }
    }

    private final ChangeLog changeLog;
    private final DataSource source;
    private final DataSource output;
    private final MeterRegistry meters;
    private final EventStore eventStore;
    private final int batchSize;
    private final Duration pollInterval;
    private final Map<String, AtomicLong> verifyDifferences = new ConcurrentHashMap<>();

    private Projections(Builder b) {
        this.changeLog = b.changeLog;
        this.source = b.source == null ? b.changeLog.dataSource() : b.source;
        this.output = b.output == null ? this.source : b.output;
        this.meters = b.meters;
        this.eventStore = b.eventStore;
        this.batchSize = b.batchSize;
        this.pollInterval = b.pollInterval;
    }

    /** Starts configuring projections over {@code changeLog}. */
    public static Builder over(ChangeLog changeLog) {
        return new Builder(Objects.requireNonNull(changeLog, "changeLog"));
    }

    /**
     * Checks {@code projection} against its databases and starts maintaining it, on a thread of
     * its own. A bad definition fails here: an unknown table, a query without the key parameter
     * or without {@code canonical_pk}, a read table without canonical columns.
     */
    public RunningProjection start(Projection projection) {
        Bound b = bind(projection);
        Subscription events = null;
        if (!projection.eventSources().isEmpty()) {
            if (eventStore == null) {
                throw new ProjectionException("Projection " + projection.name() + " reads events: configure the event store"
                        + " with Projections.over(log).eventStore(store)");
            }
            try (Connection out = output.getConnection(); Connection es = eventStore.dataSource().getConnection()) {
                if (!identity(out).equals(identity(es))) {
                    throw new ProjectionException("Projection " + projection.name() + " reads events, so its read table must"
                            + " live in the event store's database (each event's rows commit with the subscription's"
                            + " checkpoint); point output() at it");
                }
            } catch (SQLException e) {
                throw new ProjectionException("Projection " + projection.name() + ": could not reach the event store: " + e.getMessage(), e);
            }
            EventRunner eventRunner = new EventRunner(b);
            events = Subscription.to(eventStore, projection.subscriptionName()).pollInterval(pollInterval)
                    .startTransactional(eventRunner::handle);
        }
        if (projection.sources().isEmpty()) return new RunningProjection(projection, null, null, events, eventStore);
        Runner runner = new Runner(b, Output.of(b), output, source, meters);
        try {
            runner.loadQuarantine();
        } catch (SQLException e) {
            throw new ProjectionException("Projection " + projection.name() + ": could not read its quarantine: " + e.getMessage(), e);
        }
        ChangeFeed.Builder feed = ChangeFeed.from(changeLog).named(projection.feedName()).tables(b.feedTables())
                .batchSize(batchSize).pollInterval(pollInterval).backoff(Duration.ofMillis(100), Duration.ofSeconds(5));
        if (meters != null) feed.meterRegistry(meters);
        return new RunningProjection(projection, feed.startTransactional(output, runner::handle), runner, events, eventStore);
    }

    /**
     * Recomputes every canonical key from the sources' current state and compares the result
     * with the read table: missing, extra and different rows by key. Run it while the projection
     * is caught up; a change not applied yet shows as a difference.
     */
    public VerifyReport verify(Projection projection) {
        return check(projection, false);
    }

    /**
     * Verifies, and rewrites exactly the keys that differ from the recomputation, under the
     * context {@code {"annals.projection": name, "annals.purpose": "repair"}} so that the audit
     * trail shows it.
     */
    public VerifyReport repair(Projection projection) {
        return check(projection, true);
    }

    private VerifyReport check(Projection projection, boolean repair) {
        Bound b = bind(projection);
        try (Connection src = source.getConnection(); Connection out = output.getConnection()) {
            VerifyReport report = new Consistency(b, src, out, repair).run();
            recordDifferences(projection.name(), repair ? 0 : report.differences());
            return report;
        } catch (ProjectionException e) {
            throw e;
        } catch (Exception e) {
            throw new ProjectionException("Projection " + projection.name() + ": " + (repair ? "repair" : "verify")
                    + " failed: " + e.getMessage(), e);
        }
    }

    private void recordDifferences(String name, long differences) {
        AtomicLong gauge = verifyDifferences.computeIfAbsent(name, n -> {
            AtomicLong v = new AtomicLong();
            if (meters != null) {
                Gauge.builder("annals.projection.verify.differences", v, AtomicLong::get).tag("projection", n)
                        .description("differences the projection's last verify found").register(meters);
            }
            return v;
        });
        gauge.set(differences);
    }

    /**
     * Rebuilds the read table: fills a shadow table from a consistent snapshot of the sources,
     * brings it up to date from the change log, and swaps it in atomically, handing its position
     * to the projection, which goes on with no gap and no double apply (running or not). The live
     * table serves reads until the swap. Computed columns are recomputed in place instead.
     *
     * <p>The swap replaces the table: grants, triggers, and views or foreign keys that point at
     * it do not carry over (columns, defaults, constraints and indexes do).
     *
     * @return the read rows written
     */
    public long rebuild(Projection projection, Progress progress) {
        if (!projection.eventSources().isEmpty()) {
            throw new ProjectionException("Projection " + projection.name() + " reads events, which a rebuild does not"
                    + " replay; rebuild it by resetting its subscription (Subscription.reset) and emptying its read table");
        }
        Bound b = bind(projection);
        try {
            if (projection.target() instanceof Columns) {
                VerifyReport r = repair(projection);
                progress.update(r.keysChecked(), r.keysChecked());
                return r.differences();
            }
            return Rebuild.run(b, changeLog, source, output, progress, Duration.ofMinutes(10));
        } catch (ProjectionException e) {
            throw e;
        } catch (Exception e) {
            throw new ProjectionException("Projection " + projection.name() + ": rebuild failed (the live table is"
                    + " untouched): " + e.getMessage(), e);
        }
    }

    /** The changes in {@code projection}'s quarantine, oldest first ({@code null}: every projection's). */
    public List<QuarantinedChange> quarantined(String projection) {
        try (Connection c = output.getConnection()) {
            if (!installed(c)) return List.of(); // a read creates nothing: no tables, nothing quarantined
            return Quarantine.list(c, projection);
        } catch (SQLException e) {
            throw new ProjectionException("Could not read the projections' quarantine: " + e.getMessage(), e);
        }
    }

    /**
     * Discards a quarantined change: a halted projection passes it (leaving its key as it was),
     * and it no longer counts as quarantined.
     *
     * @return whether there was such a change
     */
    public boolean discard(String projection, Position position) {
        try (Connection c = output.getConnection()) {
            migrate(output);
            return Quarantine.discard(c, projection, position);
        } catch (SQLException e) {
            throw new ProjectionException("Could not discard " + position + " of projection " + projection + ": " + e.getMessage(), e);
        }
    }

    /**
     * Retries the changes {@code projection} skipped: each one's canonical key is derived again
     * from the source's current state (so a retry never brings back an older value) and written,
     * and the change leaves the quarantine. A change the mapping still fails on stays, with its
     * new error. Halted changes are retried by the running projection itself, after each back-off.
     *
     * @return how many changes were retried successfully
     */
    public int retry(Projection projection) {
        Bound b = bind(projection);
        int fixed = 0;
        try (Connection src = source.getConnection(); Connection out = output.getConnection()) {
            out.setAutoCommit(false);
            for (QuarantinedChange q : Quarantine.list(out, projection.name())) {
                if (q.discarded() || q.policy() != FailurePolicy.SKIP) continue;
                Source s = b.sourceOfType(q.canonicalType());
                if (s == null) continue;
                CanonicalKey key = CanonicalKey.of(q.canonicalType(), q.canonicalPk());
                Map<CanonicalKey, List<Map<String, Object>>> rows = new LinkedHashMap<>();
                // The lock before the read, as for repair: no batch can commit a newer state in between.
                Runner.begin(out, projection.name(), Runner.marker(projection.name(), "retry"));
                String current = Derivation.currentRows(src, b, s, List.of(key)).get(key);
                try {
                    rows.put(key, current == null ? List.of() : s.isSql() ? Derivation.query(src, b, s, List.of(key)).get(key)
                            : Derivation.map(b, s, key, current));
                } catch (Derivation.MappingFailure e) {
                    try (PreparedStatement ps = out.prepareStatement("UPDATE annals.projection_quarantine SET error = ?"
                            + " WHERE projection = ? AND position = ?")) {
                        ps.setString(1, e.getMessage());
                        ps.setString(2, projection.name());
                        ps.setString(3, q.position().toString());
                        ps.executeUpdate();
                    }
                    out.commit();
                    continue;
                }
                Output.of(b).replace(out, rows);
                Quarantine.remove(out, projection.name(), q.position());
                out.commit();
                fixed++;
            }
        } catch (SQLException e) {
            throw new ProjectionException("Projection " + projection.name() + ": retry failed: " + e.getMessage(), e);
        }
        return fixed;
    }

    /** Every projection's status, from the change log's feed registry and the quarantine. */
    public List<ProjectionStatus> status() {
        List<ProjectionStatus> out = new ArrayList<>();
        Map<String, Integer> quarantined = new LinkedHashMap<>();
        for (QuarantinedChange q : quarantined(null)) {
            if (!q.discarded()) quarantined.merge(q.projection(), 1, Integer::sum);
        }
        for (ChangeFeed.Status s : ChangeFeed.registered(changeLog)) {
            if (!s.name().startsWith("projection:") || s.name().endsWith("#rebuild")) continue;
            String name = s.name().substring("projection:".length());
            out.add(new ProjectionStatus(name, s.position(), s.changesBehind(), s.secondsBehind(),
                    quarantined.getOrDefault(name, 0), s.lastError()));
        }
        return out;
    }

    /**
     * Writes an edit of a read row back to its canonical source row, through the projection's
     * declared {@linkplain Projection.Builder#writeBack inverse mapping}; the projection then
     * updates the read row from the change, as for any other. The write carries the context
     * {@code {"annals.writeBack": projection}}.
     *
     * <pre>{@code
     * projections.writeBack(ledger, "income", "{\"id\": 7}", Map.of("memo", "corrected"));
     * }</pre>
     *
     * @param canonicalType the read row's {@code canonical_type}
     * @param canonicalPk   its {@code canonical_pk}, as JSON
     * @param values        read columns to their new values
     */
    public void writeBack(Projection projection, String canonicalType, String canonicalPk, Map<String, ?> values) {
        if (values == null || values.isEmpty()) {
            throw new ProjectionException("Projection " + projection.name() + ": a write-back needs at least one read column"
                    + " and its new value");
        }
        Bound b = bind(projection);
        Source s = b.sourceOfType(canonicalType);
        if (s == null) {
            throw new ProjectionException("Projection " + projection.name() + " has no source of canonical type "
                    + canonicalType + "; its types are " + projection.sources().stream().map(Source::canonicalType).toList());
        }
        Map<String, String> inverse = projection.writeBack().getOrDefault(s.table(), Map.of());
        TableInfo info = b.sources.get(s.table());
        CanonicalKey key = CanonicalKey.of(canonicalType, canonicalPk.startsWith("{") ? canonicalPk
                : "{" + quote(info.primaryKey().get(0)) + ":" + canonicalPk + "}");
        StringBuilder sql = new StringBuilder("UPDATE ").append(s.table().sql()).append(" SET ");
        List<String> texts = new ArrayList<>();
        for (Map.Entry<String, ?> e : values.entrySet()) {
            String target = inverse.get(e.getKey());
            if (target == null) {
                throw new ProjectionException("Projection " + projection.name() + ": read column " + e.getKey() + " of "
                        + canonicalType + " rows cannot be written back; declare writeBack(\"" + s.table() + "\", \""
                        + e.getKey() + "\", sourceColumn). Writable: " + inverse.keySet());
            }
            if (!texts.isEmpty()) sql.append(", ");
            sql.append(Sql.identifier(target)).append(" = ?::").append(info.column(target).type());
            texts.add(TextValues.text(e.getValue(), info.column(target)));
        }
        sql.append(" WHERE ");
        for (int i = 0; i < info.primaryKey().size(); i++) {
            String k = info.primaryKey().get(i);
            if (i > 0) sql.append(" AND ");
            sql.append(Sql.identifier(k)).append(" = (?::jsonb ->> ").append(Sql.literal(k)).append(")::").append(info.column(k).type());
        }
        try (Connection c = source.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement ctx = c.prepareStatement("SELECT pg_logical_emit_message(true, ?, ?)")) {
                ctx.setString(1, ContextMessage.PREFIX);
                ctx.setString(2, Json.mapper().writeValueAsString(Map.of("annals.writeBack", projection.name())));
                ctx.executeQuery().close();
            }
            try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
                int n = 1;
                for (String t : texts) ps.setString(n++, t);
                for (int i = 0; i < info.primaryKey().size(); i++) ps.setString(n++, key.json());
                if (ps.executeUpdate() != 1) {
                    c.rollback();
                    throw new ProjectionException("Projection " + projection.name() + ": no " + s.table() + " row has key "
                            + key.json() + " to write back to");
                }
            }
            c.commit();
        } catch (SQLException | com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ProjectionException("Projection " + projection.name() + ": write-back to " + s.table() + " failed: "
                    + e.getMessage(), e);
        }
    }

    private static String quote(String s) {
        try {
            return Json.mapper().writeValueAsString(s);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Whether the projections' tables exist in that database (a projection ran or was checked there). */
    private static boolean installed(Connection c) throws SQLException {
        try (java.sql.Statement s = c.createStatement();
             java.sql.ResultSet rs = s.executeQuery("SELECT to_regclass('annals.projection_quarantine') IS NOT NULL")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    /** Checks a definition against the databases (and installs the projections' tables in the output). */
    Bound bind(Projection projection) {
        migrate(output);
        try (Connection out = output.getConnection(); Connection src = source.getConnection()) {
            return Bound.check(projection, out, src, sameDatabase(out, src));
        } catch (SQLException e) {
            throw new ProjectionException("Projection " + projection.name() + ": could not read its databases: " + e.getMessage(), e);
        }
    }

    /** Whether the two connections reach one database, so that a SQL mapping can run in the output's transaction. */
    private boolean sameDatabase(Connection out, Connection src) throws SQLException {
        if (source == output) return true;
        return identity(out).equals(identity(src));
    }

    /**
     * Which database a connection reaches: the cluster's system identifier and the database's
     * name; where a role may not read the former (it is for monitoring roles on some servers),
     * the server's address and port stand in for it.
     */
    private static String identity(Connection c) throws SQLException {
        try (java.sql.Statement s = c.createStatement();
             java.sql.ResultSet rs = s.executeQuery("SELECT system_identifier::text || '/' || current_database()"
                     + " FROM pg_control_system()")) {
            rs.next();
            return rs.getString(1);
        } catch (SQLException denied) {
            if (!c.getAutoCommit()) c.rollback();
            try (java.sql.Statement s = c.createStatement();
                 java.sql.ResultSet rs = s.executeQuery("SELECT coalesce(host(inet_server_addr()), 'socket') || ':'"
                         + " || coalesce(inet_server_port(), 0) || '/' || current_database()")) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    private static final java.util.Set<DataSource> MIGRATED = ConcurrentHashMap.newKeySet();

    /** Creates the projections' tables in the output database if they are missing (their own Flyway history). */
    static void migrate(DataSource output) {
        if (MIGRATED.contains(output)) return;
        try {
            Flyway.configure()
                    .dataSource(output)
                    .schemas(ChangeLog.SCHEMA)
                    .table("projections_schema_history")
                    .baselineOnMigrate(true)
                    .baselineVersion("0")
                    .locations("classpath:io/annals/projections/migration")
                    .load()
                    .migrate();
            MIGRATED.add(output);
        } catch (RuntimeException e) {
            throw new ProjectionException("Could not create the projections' tables (annals.projection_quarantine,"
                    + " annals.projection_manual_edits) in the output database: " + e.getMessage(), e);
        }
    }

    /** The manual edits seen so far of {@code projection}'s target: what was written, when, by whom. */
    public List<Map<String, Object>> manualEdits(String projection) {
        try (Connection c = output.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT position, operation, canonical_type, canonical_pk::text,"
                     + " context::text, detected_at FROM annals.projection_manual_edits WHERE projection = ? ORDER BY id")) {
            if (!installed(c)) return List.of();
            ps.setString(1, projection);
            List<Map<String, Object>> out = new ArrayList<>();
            try (java.sql.ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("position", rs.getString(1));
                    m.put("operation", rs.getString(2));
                    m.put("canonical_type", rs.getString(3));
                    m.put("canonical_pk", rs.getString(4));
                    m.put("context", rs.getString(5));
                    m.put("detected_at", rs.getObject(6, java.time.OffsetDateTime.class).toInstant());
                    out.add(m);
                }
            }
            return out;
        } catch (SQLException e) {
            throw new ProjectionException("Could not read projection " + projection + "'s manual edits: " + e.getMessage(), e);
        }
    }

    /** The change log the projections read. */
    public ChangeLog changeLog() {
        return changeLog;
    }

    /** Counts a projection by its name in {@code status}, if the registry has it. */
    public Optional<ProjectionStatus> status(String name) {
        return status().stream().filter(s -> s.name().equals(name)).findFirst();
    }

    /**
     * Configures {@link Projections}.
     *
     * <pre>{@code
     * Projections.over(changeLog).source(app).output(reads).batchSize(2_000).build();
     * }</pre>
     */
    public static final class Builder {
        private final ChangeLog changeLog;
        private DataSource source;
        private DataSource output;
        private MeterRegistry meters;
        private EventStore eventStore;
        private int batchSize = 1_000;
        private Duration pollInterval = Duration.ofSeconds(1);

        private Builder(ChangeLog changeLog) {
            this.changeLog = changeLog;
        }

        /** The captured database the sources live in: SQL mappings, verify and rebuild read it (default: the change log's). */
        public Builder source(DataSource source) {
            this.source = Objects.requireNonNull(source, "source");
            return this;
        }

        /** The database the read tables live in, with the projections' checkpoints (default: the source). */
        public Builder output(DataSource output) {
            this.output = Objects.requireNonNull(output, "output");
            return this;
        }

        /** Registers metrics: the feeds' lag, {@code annals.projection.applied}, {@code .quarantined}, {@code .verify.differences}. */
        public Builder meterRegistry(MeterRegistry registry) {
            this.meters = Objects.requireNonNull(registry, "registry");
            return this;
        }

        /** The event store that projections with {@link Projection.Builder#fromEvents event sources} read. */
        public Builder eventStore(EventStore store) {
            this.eventStore = Objects.requireNonNull(store, "store");
            return this;
        }

        /** Changes per transaction (default 1,000): the memory bound. */
        public Builder batchSize(int size) {
            if (size < 1 || size > 100_000) throw new IllegalArgumentException("batchSize must be 1 to 100,000, not " + size);
            this.batchSize = size;
            return this;
        }

        /** How often an idle projection looks for changes when no notification comes (default 1 s). */
        public Builder pollInterval(Duration interval) {
            this.pollInterval = Objects.requireNonNull(interval, "interval");
            return this;
        }

        public Projections build() {
            return new Projections(this);
        }
    }
}
