package io.annals.events;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.annals.changelog.ChangeLog;
import io.annals.changelog.CommitNotifier;
import io.annals.changelog.Sql;
import io.annals.context.AnnalsContext;
import org.flywaydb.core.Flyway;
import org.postgresql.util.PSQLException;

import javax.sql.DataSource;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;

/**
 * An event store in schema {@code annals} of a PostgreSQL database: append to streams with
 * optimistic concurrency and idempotency, read streams and the global order, archive and delete.
 * Subscriptions ({@code io.annals.events.subscription}) and aggregates
 * ({@code io.annals.events.aggregate}) build on it.
 *
 * <pre>{@code
 * try (EventStore store = EventStore.at("jdbc:postgresql://localhost/bank?user=app")) {
 *     store.migrate();
 *     store.append("account-42", ExpectedVersion.noStream(), EventData.of("AccountOpened", "{\"owner\":\"alice\"}"));
 *     store.readStream("account-42").forEach(System.out::println);
 * }
 * }</pre>
 *
 * <h2>The global order, and why it never skips an event</h2>
 * Positions come from an identity column: they are allocated when a row is inserted, but
 * transactions commit in another order, and rolled-back appends leave gaps. A reader that
 * walked positions would either skip a lower position committed late or wait forever for one
 * rolled back. Instead every event stores the id of its transaction ({@code xid8}), and the
 * global order is {@code (transaction_id, position)}. A reader only reads events whose
 * transaction id is below the {@code xmin} of its snapshot
 * ({@code pg_snapshot_xmin(pg_current_snapshot())}): every transaction below it has finished,
 * committed or rolled back, and any transaction still to append will get a larger id. So the
 * visible prefix of the order never grows in the middle: nothing is skipped, and a rollback is
 * simply absent, never waited for. Within a stream, appends are serialised by an advisory lock
 * taken before the transaction gets its id, so stream order agrees with the global order
 * ({@link StreamOrderConflictException} guards the rare case of a transaction that had its id
 * already). The price: an event becomes visible to global readers only once every transaction
 * that started writing before it has ended, so a long writing transaction anywhere in the
 * cluster delays (never breaks) subscriptions.
 *
 * <p>Instances are thread-safe. An instance made from a JDBC URL owns a small connection pool,
 * closed by {@link #close()}; one made from a {@link DataSource} leaves it to its owner.
 */
public final class EventStore implements AutoCloseable {

    /** The longest stream id, in characters. */
    public static final int MAX_STREAM_ID_LENGTH = 200;

    /** The channel {@code annals.append_events} notifies on every append, for subscriptions to wake up. */
    public static final String NOTIFY_CHANNEL = "annals_events";

    // Plain numbers where possible: parsing timestamp text dominates reading otherwise. Every column
    // is aliased so that ORDER BY never binds to a select-list expression by accident.
    static final String COLUMNS = "transaction_id::text::bigint AS xid, position, stream_id, stream_type, stream_version,"
            + " event_id, event_type, data::text AS data_text, metadata::text AS metadata_text,"
            + " (extract(epoch FROM recorded_at) * 1000000)::bigint AS recorded_micros";

    private final DataSource dataSource;
    private final HikariDataSource ownPool;
    private volatile CommitNotifier notifier;

    private EventStore(DataSource dataSource, HikariDataSource ownPool) {
        this.dataSource = dataSource;
        this.ownPool = ownPool;
    }

    /** An event store reached through {@code dataSource} (a pool, ideally: every call takes a connection). */
    public static EventStore at(DataSource dataSource) {
        return new EventStore(Objects.requireNonNull(dataSource, "dataSource"), null);
    }

    /** An event store at {@code jdbcUrl}, with a pool of up to 10 connections of its own. */
    public static EventStore at(String jdbcUrl) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(Objects.requireNonNull(jdbcUrl, "jdbcUrl"));
        config.setMaximumPoolSize(10);
        config.setMinimumIdle(1);
        config.setPoolName("annals-events");
        config.addDataSourceProperty("ApplicationName", "annals-events");
        HikariDataSource pool = new HikariDataSource(config);
        return new EventStore(pool, pool);
    }

    /** The data source this store reads and writes through. */
    public DataSource dataSource() {
        return dataSource;
    }

    /**
     * Creates or upgrades the event store's tables with versioned Flyway migrations, recorded in
     * their own history table {@code annals.events_schema_history}. Safe to call on every start,
     * from several processes at once. Installs nothing else: the change log, if wanted, has its
     * own {@code ChangeLog.migrate()}, and the two may run in either order.
     */
    public void migrate() {
        Flyway.configure()
                .dataSource(dataSource)
                .schemas(ChangeLog.SCHEMA)
                .table("events_schema_history")
                // Schema annals may already hold the change log or a feed's checkpoints, and Flyway refuses a
                // non-empty schema without this history table: start our own history at 0 so that V1 still runs.
                .baselineOnMigrate(true)
                .baselineVersion("0")
                .locations("classpath:io/annals/events/migration")
                .load()
                .migrate();
    }

    /** Appends {@code events} to a stream in one round trip; see {@link #append(String, ExpectedVersion, List)}. */
    public AppendResult append(String streamId, ExpectedVersion expected, EventData... events) {
        return append(streamId, expected, List.of(events));
    }

    /**
     * Appends {@code events}, in order, to the stream {@code streamId}, creating it if needed,
     * in one statement and its own transaction. The stream's type is its category: the id up to
     * the first {@code '-'} ({@code account-42} is an {@code account}). Events without metadata
     * get the current {@link AnnalsContext}.
     *
     * <pre>{@code
     * AppendResult r = store.append("account-42", ExpectedVersion.exactly(1),
     *         List.of(EventData.of("MoneyDeposited", "{\"amount\":50}"), EventData.of("MoneyDeposited", "{\"amount\":125}")));
     * }</pre>
     *
     * @throws WrongExpectedVersionException if the stream is not as expected
     * @throws EventIdConflictException      if an event id is already stored as part of something else
     * @throws StreamClosedException         if the stream is archived or deleted
     * @throws IllegalArgumentException      if the stream id is blank or longer than {@value #MAX_STREAM_ID_LENGTH}
     *                                       characters, or there are no events
     */
    public AppendResult append(String streamId, ExpectedVersion expected, List<EventData> events) {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(true);
            return append(c, streamId, expected, events);
        } catch (SQLException e) {
            throw new EventStoreException("Could not append to stream " + streamId + ": " + e.getMessage(), e);
        }
    }

    /**
     * Appends within the caller's transaction on {@code connection}: the events are stored if and
     * when the caller commits, together with whatever else it wrote (an outbox, a read model).
     *
     * <pre>{@code
     * connection.setAutoCommit(false);
     * store.append(connection, "order-7", ExpectedVersion.noStream(), List.of(placed));
     * insertIntoOrdersTable(connection);
     * connection.commit();
     * }</pre>
     *
     * @throws StreamOrderConflictException if this transaction wrote before appending and a newer one appended to the
     *                                      stream meanwhile: roll back and retry
     */
    public AppendResult append(Connection connection, String streamId, ExpectedVersion expected, List<EventData> events) {
        requireStreamId(streamId);
        Objects.requireNonNull(expected, "expected");
        Objects.requireNonNull(events, "events");
        if (events.isEmpty()) {
            throw new IllegalArgumentException("An append to stream " + streamId + " needs at least one event");
        }
        int n = events.size();
        UUID[] ids = new UUID[n];
        String[] types = new String[n];
        String[] data = new String[n];
        String[] metadata = new String[n];
        String context = null;
        for (int i = 0; i < n; i++) {
            EventData e = Objects.requireNonNull(events.get(i), "events[" + i + "]");
            ids[i] = e.eventId();
            types[i] = e.type();
            data[i] = e.data();
            if (e.metadata() != null) {
                metadata[i] = e.metadata();
            } else {
                if (context == null) context = AnnalsContext.current().toJson();
                metadata[i] = context;
            }
        }
        boolean ownTransaction;
        try {
            ownTransaction = connection.getAutoCommit();
        } catch (SQLException e) {
            throw new EventStoreException("Could not append to stream " + streamId + ": " + e.getMessage(), e);
        }
        try (PreparedStatement ps = connection.prepareStatement("SELECT * FROM annals.append_events(?, ?, ?, ?, ?, ?, ?)")) {
            Array idArray = connection.createArrayOf("uuid", ids);
            Array typeArray = connection.createArrayOf("text", types);
            Array dataArray = connection.createArrayOf("jsonb", data);
            Array metadataArray = connection.createArrayOf("jsonb", metadata);
            ps.setString(1, streamId);
            ps.setLong(2, code(expected));
            ps.setArray(3, idArray);
            ps.setArray(4, typeArray);
            ps.setArray(5, dataArray);
            ps.setArray(6, metadataArray);
            // In the caller's transaction the NOTIFY must wait for its commit, so it goes with it.
            ps.setBoolean(7, !ownTransaction);
            AppendResult result;
            long transactionId;
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                result = new AppendResult(streamId, rs.getLong(2), rs.getLong(3), rs.getLong(4), rs.getBoolean(1));
                transactionId = rs.getLong(5);
            }
            if (ownTransaction && !result.duplicate()) notifier().signal(transactionId);
            return result;
        } catch (SQLException e) {
            throw translate(e, streamId, expected);
        }
    }

    /**
     * Reads one stream; forwards from version 1 unless told otherwise.
     *
     * <pre>{@code
     * List<RecordedEvent> lastTen = store.readStream("account-42").backwards().maxCount(10).toList();
     * }</pre>
     */
    public StreamQuery readStream(String streamId) {
        requireStreamId(streamId);
        return new StreamQuery(dataSource, streamId);
    }

    /**
     * Reads all events in the global order, from the start unless told otherwise.
     *
     * <pre>{@code
     * store.readAll().after(checkpoint).eventTypes("MoneyDeposited").forEach(this::project);
     * }</pre>
     */
    public AllQuery readAll() {
        return new AllQuery(dataSource);
    }

    /** The stream's type, version and life cycle, if it exists (deleted streams remain as tombstones). */
    public Optional<StreamInfo> streamInfo(String streamId) {
        requireStreamId(streamId);
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT stream_type, version, created_at, archived_at, deleted_at"
                     + " FROM annals.event_streams WHERE stream_id = ?")) {
            ps.setString(1, streamId);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) return Optional.empty();
                return Optional.of(new StreamInfo(streamId, rs.getString(1), rs.getLong(2), instant(rs, 3),
                        instant(rs, 4), instant(rs, 5)));
            }
        } catch (SQLException e) {
            throw new EventStoreException("Could not read stream " + streamId + ": " + e.getMessage(), e);
        }
    }

    /**
     * Archives a stream: it stays readable, in its stream and in the global order, but accepts no
     * more events ({@link StreamClosedException}). Archiving an archived stream does nothing.
     *
     * @throws EventStoreException if the stream does not exist
     */
    public void archive(String streamId) {
        requireStreamId(streamId);
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("UPDATE annals.event_streams SET archived_at = coalesce(archived_at, now())"
                     + " WHERE stream_id = ?")) {
            ps.setString(1, streamId);
            if (ps.executeUpdate() == 0) {
                throw new EventStoreException("Cannot archive stream " + streamId + ": it does not exist");
            }
        } catch (SQLException e) {
            throw new EventStoreException("Could not archive stream " + streamId + ": " + e.getMessage(), e);
        }
    }

    /**
     * Deletes a stream's events and snapshots for good, in one transaction, leaving a tombstone:
     * one last event of type {@value #TOMBSTONE_TYPE} (so that subscriptions learn of the
     * deletion and can clean their read models) and the stream's row, so that the id is never
     * reused by accident. Use it for data that must go (erasure requests); prefer
     * {@link #archive(String)} otherwise. Subscriptions that had not yet read the deleted events
     * never will.
     *
     * <pre>{@code
     * store.delete("customer-17"); // readStream("customer-17") now holds only the tombstone
     * }</pre>
     *
     * @throws EventStoreException if the stream does not exist
     */
    public void delete(String streamId) {
        requireStreamId(streamId);
        try (Connection c = dataSource.getConnection()) {
            Sql.inTransaction(c, tx -> {
                AppendResult tomb = append(tx, streamId, ExpectedVersion.streamExists(),
                        List.of(EventData.of(TOMBSTONE_TYPE, "{}")));
                try (PreparedStatement del = tx.prepareStatement("DELETE FROM annals.events WHERE stream_id = ? AND stream_version < ?");
                     PreparedStatement snaps = tx.prepareStatement("DELETE FROM annals.event_snapshots WHERE stream_id = ?");
                     PreparedStatement mark = tx.prepareStatement("UPDATE annals.event_streams SET deleted_at = now() WHERE stream_id = ?")) {
                    del.setString(1, streamId);
                    del.setLong(2, tomb.streamVersion());
                    del.executeUpdate();
                    snaps.setString(1, streamId);
                    snaps.executeUpdate();
                    mark.setString(1, streamId);
                    mark.executeUpdate();
                }
                return null;
            });
        } catch (WrongExpectedVersionException e) {
            throw new EventStoreException("Cannot delete stream " + streamId + ": it does not exist", e);
        } catch (SQLException e) {
            throw new EventStoreException("Could not delete stream " + streamId + ": " + e.getMessage(), e);
        }
    }

    /** The type of the last event of a deleted stream. */
    public static final String TOMBSTONE_TYPE = "$StreamDeleted";

    /**
     * Stops the thread that notifies subscriptions of appends, and closes the connection pool if
     * this store made it ({@link #at(String)}).
     */
    @Override
    public void close() {
        CommitNotifier n = notifier;
        if (n != null) n.close();
        if (ownPool != null) ownPool.close();
    }

    /** Notifies from a connection of its own after the append committed (see {@link CommitNotifier} for why). */
    private CommitNotifier notifier() {
        CommitNotifier n = notifier;
        if (n == null) {
            synchronized (this) {
                n = notifier;
                if (n == null) notifier = n = new CommitNotifier(dataSource, NOTIFY_CHANNEL, "annals-events-notifier");
            }
        }
        return n;
    }

    /** The encoding {@code annals.append_events} understands. */
    private static long code(ExpectedVersion expected) {
        return switch (expected) {
            case ExpectedVersion.Any any -> -1;
            case ExpectedVersion.NoStream none -> -2;
            case ExpectedVersion.StreamExists exists -> -3;
            case ExpectedVersion.Exactly(long version) -> version;
        };
    }

    static void requireStreamId(String streamId) {
        Objects.requireNonNull(streamId, "streamId");
        if (streamId.isBlank()) {
            throw new IllegalArgumentException("A stream id must not be blank; use e.g. \"account-42\" (category-id)");
        }
        if (streamId.length() > MAX_STREAM_ID_LENGTH) {
            throw new IllegalArgumentException("Stream id '" + streamId.substring(0, 40) + "...' is " + streamId.length()
                    + " characters long, over the limit of " + MAX_STREAM_ID_LENGTH + "; use a shorter natural key or a UUID");
        }
    }

    private static EventStoreException translate(SQLException e, String streamId, ExpectedVersion expected) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String detail = e instanceof PSQLException p && p.getServerErrorMessage() != null
                ? p.getServerErrorMessage().getDetail() : null;
        return switch (state) {
            case "AN001" -> new WrongExpectedVersionException(streamId, expected, Long.parseLong(detail), e);
            case "AN002" -> new EventIdConflictException("Event id " + detail + " is already stored, but not as part of this same append"
                    + " (other content, another stream, or mixed with new ids): " + e.getMessage()
                    + ". A retry must resend exactly the same events; a new event needs a new id", UUID.fromString(detail), e);
            case "AN003" -> new StreamClosedException(streamId, false, e);
            case "AN004" -> new StreamClosedException(streamId, true, e);
            case "AN005" -> new StreamOrderConflictException(streamId, e);
            // Two appends racing to the same new ids in different streams: the loser sees the constraint.
            // An id already stored that is not the append's first one (a retry resends its first id), or
            // two appends racing with the same new ids: the unique constraint speaks.
            case "23505" -> e.getMessage() != null && e.getMessage().contains("events_event_id_key")
                    ? new EventIdConflictException("An event id of this append to " + streamId + " is already stored, but not as"
                    + " part of this same append: " + e.getMessage() + ". A retry must resend exactly the same events; a new"
                    + " event needs a new id", conflictingId(e.getMessage()), e)
                    : new EventStoreException("Could not append to stream " + streamId + ": " + e.getMessage(), e);
            default -> new EventStoreException("Could not append to stream " + streamId + ": " + e.getMessage(), e);
        };
    }

    private static final java.util.regex.Pattern EVENT_ID_KEY = java.util.regex.Pattern.compile("\\(event_id\\)=\\(([0-9a-f-]{36})\\)");

    private static UUID conflictingId(String message) {
        java.util.regex.Matcher m = EVENT_ID_KEY.matcher(message);
        return m.find() ? UUID.fromString(m.group(1)) : null;
    }

    static RecordedEvent map(ResultSet rs) throws SQLException {
        long micros = rs.getLong(10);
        return new RecordedEvent(new GlobalPosition(rs.getLong(1), rs.getLong(2)), rs.getString(3),
                rs.getString(4), rs.getLong(5), rs.getObject(6, UUID.class), rs.getString(7), rs.getString(8),
                rs.getString(9), Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1_000L));
    }

    private static Instant instant(ResultSet rs, int column) throws SQLException {
        OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }
}
