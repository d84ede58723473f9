package io.annals.events;

import javax.sql.DataSource;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * A read of one stream, built fluently from {@link EventStore#readStream(String)}. Forwards from
 * version 1 by default; {@link #backwards()} starts from the last version. Results stream from
 * a server-side cursor in {@link #forEach(Consumer)}.
 *
 * <pre>{@code
 * store.readStream("account-42").fromVersion(3).maxCount(10).toList();   // versions 3..12
 * store.readStream("account-42").backwards().maxCount(1).toList();        // the last event
 * store.readStream("account-42").until(Instant.parse("2026-01-01T00:00:00Z")).forEach(fold); // as of an instant
 * }</pre>
 */
public final class StreamQuery {

    private final DataSource dataSource;
    private final String streamId;
    private boolean backwards;
    private Long fromVersion;
    private long toVersion = Long.MAX_VALUE;
    private Instant until;
    private long maxCount = Long.MAX_VALUE;

    StreamQuery(DataSource dataSource, String streamId) {
        this.dataSource = dataSource;
        this.streamId = streamId;
    }

    /** Reads from the end towards the start. */
    public StreamQuery backwards() {
        backwards = true;
        return this;
    }

    /** Starts at {@code version} (inclusive): the first event read forwards, the last one read backwards. */
    public StreamQuery fromVersion(long version) {
        if (version < 0) throw new IllegalArgumentException("A stream version is 0 or more, not " + version);
        fromVersion = version;
        return this;
    }

    /** Reads no event after {@code version} (inclusive), whatever the direction: the stream as of that version. */
    public StreamQuery toVersion(long version) {
        if (version < 0) throw new IllegalArgumentException("A stream version is 0 or more, not " + version);
        toVersion = version;
        return this;
    }

    /** Reads no event recorded after {@code instant}: the stream as it was then. */
    public StreamQuery until(Instant instant) {
        until = Objects.requireNonNull(instant, "instant");
        return this;
    }

    /** Reads at most {@code count} events. */
    public StreamQuery maxCount(long count) {
        if (count < 0) throw new IllegalArgumentException("A maximum count is 0 or more, not " + count);
        maxCount = count;
        return this;
    }

    /** Hands each event to {@code action} in order, streaming; returns how many there were. */
    public long forEach(Consumer<? super RecordedEvent> action) {
        Objects.requireNonNull(action, "action");
        long from = fromVersion != null ? fromVersion : backwards ? Long.MAX_VALUE : 0;
        String sql = "SELECT " + EventStore.COLUMNS + " FROM annals.events WHERE stream_id = ?"
                + (backwards ? " AND stream_version <= ?" : " AND stream_version >= ?")
                + " AND stream_version <= ?"
                + (until != null ? " AND recorded_at <= ?" : "")
                + " ORDER BY stream_version" + (backwards ? " DESC" : "") + " LIMIT ?";
        return Cursor.forEach(dataSource, sql, ps -> {
            int i = 1;
            ps.setString(i++, streamId);
            ps.setLong(i++, from);
            ps.setLong(i++, toVersion);
            if (until != null) ps.setTimestamp(i++, Timestamp.from(until));
            ps.setLong(i, maxCount);
        }, action, "stream " + streamId);
    }

    /** The events as a list (bound the size with {@link #maxCount(long)} for long streams). */
    public List<RecordedEvent> toList() {
        List<RecordedEvent> events = new ArrayList<>();
        forEach(events::add);
        return events;
    }
}
