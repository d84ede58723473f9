package io.annals.events;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * A read of all events in the global order ({@link GlobalPosition}), built fluently from
 * {@link EventStore#readAll()}. Only events of transactions that can no longer be followed by an
 * earlier one are read (see {@link EventStore}), so reading again {@link #after} the last event
 * seen never skips one.
 *
 * <pre>{@code
 * GlobalPosition last = GlobalPosition.START;
 * store.readAll().after(last).streamTypes("account").eventTypes("MoneyDeposited", "MoneyWithdrawn")
 *      .forEach(e -> project(e));
 * }</pre>
 */
public final class AllQuery {

    private final DataSource dataSource;
    private GlobalPosition after = GlobalPosition.START;
    private String[] eventTypes;
    private String[] streamTypes;
    private long maxCount = Long.MAX_VALUE;

    AllQuery(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** Starts after {@code position} (exclusive), e.g. the last event handled. */
    public AllQuery after(GlobalPosition position) {
        after = Objects.requireNonNull(position, "position");
        return this;
    }

    /** Reads only events of these types. */
    public AllQuery eventTypes(String... types) {
        eventTypes = nonEmpty(types, "event types");
        return this;
    }

    /** Reads only events of streams of these categories (the stream id up to the first {@code '-'}). */
    public AllQuery streamTypes(String... types) {
        streamTypes = nonEmpty(types, "stream types");
        return this;
    }

    /** Reads at most {@code count} events. */
    public AllQuery maxCount(long count) {
        if (count < 0) throw new IllegalArgumentException("A maximum count is 0 or more, not " + count);
        maxCount = count;
        return this;
    }

    /** Hands each event to {@code action} in the global order, streaming; returns how many there were. */
    public long forEach(Consumer<? super RecordedEvent> action) {
        Objects.requireNonNull(action, "action");
        return Cursor.forEach(dataSource, sql(), this::bind, action, "all events");
    }

    /**
     * Reads on the caller's connection, inside its transaction if one is open: how a projection
     * reads events and writes its results atomically. In autocommit mode the whole result is
     * fetched at once, so bound it with {@link #maxCount(long)}.
     *
     * <pre>{@code
     * connection.setAutoCommit(false);
     * store.readAll().after(checkpoint).maxCount(500).forEach(connection, e -> project(connection, e));
     * connection.commit();
     * }</pre>
     */
    public long forEach(Connection connection, Consumer<? super RecordedEvent> action) {
        Objects.requireNonNull(connection, "connection");
        Objects.requireNonNull(action, "action");
        return Cursor.forEach(connection, sql(), this::bind, action, "all events");
    }

    private String sql() {
        return "SELECT " + EventStore.COLUMNS + " FROM annals.events"
                + " WHERE (transaction_id, position) > (?::text::xid8, ?)"
                + " AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())"
                + (eventTypes != null ? " AND event_type = ANY (?)" : "")
                + (streamTypes != null ? " AND stream_type = ANY (?)" : "")
                // Qualified: an unqualified name would sort by the text column of the same name in the select list.
                + " ORDER BY events.transaction_id, events.position LIMIT ?";
    }

    private void bind(PreparedStatement ps) throws SQLException {
        int i = 1;
        ps.setString(i++, Long.toString(after.transactionId()));
        ps.setLong(i++, after.position());
        if (eventTypes != null) ps.setArray(i++, ps.getConnection().createArrayOf("text", eventTypes));
        if (streamTypes != null) ps.setArray(i++, ps.getConnection().createArrayOf("text", streamTypes));
        ps.setLong(i, maxCount);
    }

    /**
     * The events as a list; needs {@link #maxCount(long)}, since the whole store rarely fits in
     * memory (use {@link #forEach(Consumer)} to stream it).
     */
    public List<RecordedEvent> toList() {
        if (maxCount == Long.MAX_VALUE) {
            throw new IllegalStateException("readAll().toList() needs maxCount(n) to bound memory; stream with forEach(...) instead");
        }
        List<RecordedEvent> events = new ArrayList<>();
        forEach(events::add);
        return events;
    }

    private static String[] nonEmpty(String[] values, String what) {
        Objects.requireNonNull(values, what);
        if (values.length == 0) throw new IllegalArgumentException("Give at least one of the " + what + " to filter by");
        for (String v : values) Objects.requireNonNull(v, what);
        return values.clone();
    }
}
