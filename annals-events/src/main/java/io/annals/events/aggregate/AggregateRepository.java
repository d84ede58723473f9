package io.annals.events.aggregate;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.annals.events.EventData;
import io.annals.events.EventStore;
import io.annals.events.EventStoreException;
import io.annals.events.EventTypes;
import io.annals.events.ExpectedVersion;
import io.annals.events.RecordedEvent;
import io.annals.events.StreamQuery;
import io.annals.events.WrongExpectedVersionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.lang.reflect.RecordComponent;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * Loads aggregates from their streams (from the latest usable snapshot, then the events after
 * it), runs decisions against them with optimistic concurrency and retries, and takes snapshots.
 *
 * <pre>{@code
 * AggregateRepository<Account, AccountEvent> accounts = AggregateRepository.of(store, new Accounts(), types)
 *         .withSnapshots(SnapshotPolicy.everyEvents(100), 1);
 * accounts.execute("42", account -> List.of(new MoneyDeposited(new BigDecimal("50"))));
 * Loaded<Account> then = accounts.loadAtVersion("42", 3);                 // time travel by version
 * Loaded<Account> before = accounts.loadAsOf("42", Instant.parse("2026-01-01T00:00:00Z")); // or by instant
 * }</pre>
 *
 * <p><b>Snapshots and schema changes.</b> A snapshot is stored under a schema version made of the
 * number you give and a fingerprint of the state class's shape (record components or fields,
 * names and types, recursively). A snapshot of another schema version is never read: the load
 * replays the events instead, and the next snapshot is taken in the new shape. Bump the number
 * when the meaning of the state changes without its shape; a shape change needs no bump. A
 * snapshot that still fails to read is skipped with a warning, never fatal.
 *
 * <p>Instances are immutable and thread-safe.
 *
 * @param <S> the state
 * @param <E> the common supertype of the events
 */
public final class AggregateRepository<S, E> {

    private static final Logger log = LoggerFactory.getLogger(AggregateRepository.class);

    private final EventStore store;
    private final Aggregate<S, E> aggregate;
    private final EventTypes<E> types;
    private final SnapshotPolicy policy;
    private final String schemaVersion;
    private final int maxAttempts;

    private AggregateRepository(EventStore store, Aggregate<S, E> aggregate, EventTypes<E> types, SnapshotPolicy policy,
                                String schemaVersion, int maxAttempts) {
        this.store = store;
        this.aggregate = aggregate;
        this.types = types;
        this.policy = policy;
        this.schemaVersion = schemaVersion;
        this.maxAttempts = maxAttempts;
    }

    /** A repository without automatic snapshots, retrying a conflicting {@link #execute} up to 3 times. */
    public static <S, E> AggregateRepository<S, E> of(EventStore store, Aggregate<S, E> aggregate, EventTypes<E> types) {
        Objects.requireNonNull(store, "store");
        Objects.requireNonNull(aggregate, "aggregate");
        Objects.requireNonNull(types, "types");
        return new AggregateRepository<>(store, aggregate, types, SnapshotPolicy.never(),
                schemaVersionOf(1, aggregate.stateClass()), 4);
    }

    /**
     * This repository, snapshotting by {@code policy} under {@code stateVersion} (1 or more; bump
     * it when the state's meaning changes without its shape).
     */
    public AggregateRepository<S, E> withSnapshots(SnapshotPolicy snapshotPolicy, int stateVersion) {
        Objects.requireNonNull(snapshotPolicy, "snapshotPolicy");
        if (stateVersion < 1) throw new IllegalArgumentException("A snapshot state version is 1 or more, not " + stateVersion);
        return new AggregateRepository<>(store, aggregate, types, snapshotPolicy, schemaVersionOf(stateVersion, aggregate.stateClass()),
                maxAttempts);
    }

    /** This repository, retrying {@link #execute} up to {@code retries} times after a conflict (0: never). */
    public AggregateRepository<S, E> withRetries(int retries) {
        if (retries < 0) throw new IllegalArgumentException("Retries are 0 or more, not " + retries);
        return new AggregateRepository<>(store, aggregate, types, policy, schemaVersion, retries + 1);
    }

    /** The stream of aggregate {@code id}: {@code category-id}. */
    public String streamId(String id) {
        Objects.requireNonNull(id, "id");
        return aggregate.category() + "-" + id;
    }

    /** The schema version snapshots are stored under: the state version and the state class's fingerprint. */
    public String snapshotSchemaVersion() {
        return schemaVersion;
    }

    /** The current state; version 0 and the initial state if the aggregate has no events. */
    public Loaded<S> load(String id) {
        return load(id, Long.MAX_VALUE, null);
    }

    /** The state right after event {@code version} (time travel by version). */
    public Loaded<S> loadAtVersion(String id, long version) {
        if (version < 0) throw new IllegalArgumentException("A version is 0 or more, not " + version);
        return load(id, version, null);
    }

    /** The state as it was at {@code instant}: every event recorded then or before (time travel by time). */
    public Loaded<S> loadAsOf(String id, Instant instant) {
        return load(id, Long.MAX_VALUE, Objects.requireNonNull(instant, "instant"));
    }

    /**
     * Loads, decides, appends with the loaded version as the expected one, and on a conflict
     * (someone appended meanwhile) does it all again, up to the retry limit. An empty decision
     * appends nothing. Returns the state after the new events.
     *
     * <pre>{@code
     * accounts.execute("42", account -> {
     *     if (account.balance().compareTo(amount) < 0) throw new InsufficientFunds(account.balance());
     *     return List.of(new MoneyWithdrawn(amount));
     * });
     * }</pre>
     *
     * @throws WrongExpectedVersionException if every attempt conflicted
     */
    public Loaded<S> execute(String id, Function<? super S, ? extends List<? extends E>> decide) {
        Objects.requireNonNull(decide, "decide");
        WrongExpectedVersionException last = null;
        for (int attempt = 0; attempt < maxAttempts; attempt++) {
            Loaded<S> current = load(id);
            List<? extends E> events = Objects.requireNonNull(decide.apply(current.state()), "decision");
            if (events.isEmpty()) return current;
            try {
                return append(current, events);
            } catch (WrongExpectedVersionException e) {
                last = e;
                log.debug("Conflict on {} at version {} (attempt {} of {}), retrying", streamId(id), current.version(), attempt + 1, maxAttempts);
            }
        }
        throw last;
    }

    /**
     * Appends {@code events} after the loaded state, expecting its version, and returns the new
     * state; snapshots if the policy says so.
     *
     * @throws WrongExpectedVersionException if the stream moved on since {@code loaded}
     */
    public Loaded<S> append(Loaded<S> loaded, List<? extends E> events) {
        List<EventData> data = new ArrayList<>(events.size());
        S state = loaded.state();
        for (E e : events) {
            data.add(types.toEventData(e));
            state = aggregate.apply(state, e);
        }
        var result = store.append(streamId(loaded.id()), ExpectedVersion.exactly(loaded.version()), data);
        Loaded<S> after = new Loaded<>(loaded.id(), result.streamVersion(), state, null, loaded.snapshotVersion());
        if (policy.shouldSnapshot(loaded.snapshotVersion(), after.version())) {
            try {
                writeSnapshot(after);
                after = new Loaded<>(after.id(), after.version(), after.state(), null, after.version());
            } catch (EventStoreException e) {
                // The events are stored; a missing snapshot only costs replay time.
                log.warn("Could not snapshot {} at version {}: {}", streamId(loaded.id()), after.version(), e.getMessage());
            }
        }
        return after;
    }

    /** Takes a snapshot of the current state now, whatever the policy; returns the state snapshotted. */
    public Loaded<S> snapshot(String id) {
        Loaded<S> current = load(id);
        if (current.version() == 0) {
            throw new EventStoreException("Cannot snapshot " + streamId(id) + ": it has no events");
        }
        writeSnapshot(current);
        return new Loaded<>(current.id(), current.version(), current.state(), current.asOf(), current.version());
    }

    private void writeSnapshot(Loaded<S> loaded) {
        String json = types.toJson(loaded.state());
        try (Connection c = store.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("INSERT INTO annals.event_snapshots (stream_id, schema_version, stream_version, as_of, state)"
                     + " SELECT stream_id, ?, stream_version, recorded_at, ?::jsonb FROM annals.events WHERE stream_id = ? AND stream_version = ?"
                     + " ON CONFLICT DO NOTHING")) {
            ps.setString(1, schemaVersion);
            ps.setString(2, json);
            ps.setString(3, streamId(loaded.id()));
            ps.setLong(4, loaded.version());
            ps.executeUpdate();
        } catch (SQLException e) {
            throw new EventStoreException("Could not store a snapshot of " + streamId(loaded.id()) + ": " + e.getMessage(), e);
        }
    }

    private Loaded<S> load(String id, long toVersion, Instant until) {
        String streamId = streamId(id);
        S state = aggregate.initialState();
        long version = 0;
        long snapshotVersion = 0;
        Instant asOf = null;
        Snapshot snapshot = readSnapshot(streamId, toVersion, until);
        if (snapshot != null) {
            try {
                state = types.mapper().readValue(snapshot.json, aggregate.stateClass());
                version = snapshot.version;
                snapshotVersion = snapshot.version;
                asOf = snapshot.asOf;
            } catch (JsonProcessingException e) {
                log.warn("Ignoring the snapshot of {} at version {}: it does not read as {} ({}); replaying the events instead",
                        streamId, snapshot.version, aggregate.stateClass().getName(), e.getOriginalMessage());
            }
        }
        StreamQuery query = store.readStream(streamId).fromVersion(version + 1).toVersion(toVersion);
        if (until != null) query.until(until);
        Fold fold = new Fold(state, version, asOf);
        query.forEach(fold::accept);
        return new Loaded<>(id, fold.version, fold.state, fold.asOf, snapshotVersion);
    }

    /** Folds events into the state as the cursor delivers them. */
    private final class Fold {
        S state;
        long version;
        Instant asOf;

        Fold(S state, long version, Instant asOf) {
            this.state = state;
            this.version = version;
            this.asOf = asOf;
        }

        void accept(RecordedEvent e) {
            if (e.type().equals(EventStore.TOMBSTONE_TYPE)) {
                throw new EventStoreException("Aggregate stream " + e.streamId() + " was deleted; it cannot be loaded");
            }
            var decoded = types.decode(e); // empty only for an unknown type under SKIP, logged there
            if (decoded.isPresent()) state = aggregate.apply(state, decoded.get());
            version = e.streamVersion();
            asOf = e.recordedAt();
        }
    }

    private record Snapshot(long version, Instant asOf, String json) {
    }

    private Snapshot readSnapshot(String streamId, long toVersion, Instant until) {
        try (Connection c = store.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT stream_version, as_of, state::text FROM annals.event_snapshots"
                     + " WHERE stream_id = ? AND schema_version = ? AND stream_version <= ?"
                     + (until != null ? " AND as_of <= ?" : "") + " ORDER BY stream_version DESC LIMIT 1")) {
            ps.setString(1, streamId);
            ps.setString(2, schemaVersion);
            ps.setLong(3, toVersion);
            if (until != null) ps.setTimestamp(4, Timestamp.from(until));
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) return null;
                return new Snapshot(rs.getLong(1), rs.getObject(2, java.time.OffsetDateTime.class).toInstant(), rs.getString(3));
            }
        } catch (SQLException e) {
            throw new EventStoreException("Could not read the snapshot of " + streamId + ": " + e.getMessage(), e);
        }
    }

    /** {@code "<version>:<fingerprint>"}; the fingerprint hashes the class's shape. */
    static String schemaVersionOf(int version, Class<?> stateClass) {
        StringBuilder shape = new StringBuilder();
        describe(stateClass, shape, new HashSet<>());
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(shape.toString().getBytes(StandardCharsets.UTF_8));
            return version + ":" + HexFormat.of().formatHex(hash, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    }

    private static void describe(Class<?> type, StringBuilder out, Set<Class<?>> seen) {
        out.append(type.getName());
        if (type.isPrimitive() || type.getName().startsWith("java.") || !seen.add(type)) return;
        if (type.isEnum()) {
            out.append('{');
            for (Object constant : type.getEnumConstants()) out.append(((Enum<?>) constant).name()).append(',');
            out.append('}');
        } else if (type.isRecord()) {
            out.append('(');
            for (RecordComponent c : type.getRecordComponents()) {
                out.append(c.getName()).append(':').append(c.getGenericType().getTypeName()).append(' ');
                describe(c.getType(), out, seen);
                out.append(',');
            }
            out.append(')');
        } else {
            out.append('[');
            for (Field f : type.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers()) || Modifier.isTransient(f.getModifiers())) continue;
                out.append(f.getName()).append(':').append(f.getGenericType().getTypeName()).append(' ');
                describe(f.getType(), out, seen);
                out.append(',');
            }
            out.append(']');
        }
    }
}
