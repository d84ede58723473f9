package io.annals.history.keyframes;

import io.annals.changelog.ChangeLog;
import io.annals.changelog.Position;
import io.annals.changelog.feed.ChangeFeed;
import io.annals.history.HistoryException;
import io.annals.history.internal.ChangeLogReader;
import io.annals.history.internal.KeyframeStore;
import io.annals.history.internal.TableName;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Writes keyframes in the background: a table gets a new keyframe once it has had
 * {@link Builder#everyChanges(long) N} changes since its last one, and at least
 * {@link Builder#changesPerRow(double) F} changes per row of it (so that copying its rows costs at
 * most 1/F of a row per change: a table whose changes are mostly inserts, where a keyframe would
 * save nothing, gets none); or, if set, once {@link Builder#every(Duration) T} has passed since its
 * last one and it has changed since.
 *
 * <p>The keyframer is an exactly-once {@link ChangeFeed} consumer (feed {@code keyframes} by
 * default) on the change log's own database: it counts each table's changes as they come (a
 * {@linkplain ChangeFeed.Builder#startCounting counting} feed: the server counts, so the images are never
 * read, and a catch-up over millions of changes costs capture little), and in
 * the transaction that stores its feed checkpoint writes the keyframes that are due, at the position
 * of the last change of that batch, each from the table's previous keyframe plus the changes since
 * it. A crash therefore leaves no half keyframe and no keyframe twice; the counts since each table's
 * last keyframe ({@code annals.keyframe_progress}, kept per keyframer name) commit with the same checkpoint. It reads the log
 * only, never the source tables. Tables without a primary key are skipped (and listed in
 * {@code annals.keyframe_progress.skipped_because}).
 *
 * <pre>{@code
 * try (Keyframer keyframer = trail.keyframes().keyframer()
 *         .everyChanges(100_000)              // of one table
 *         .changesPerRow(4)                   // and 4 per row of it
 *         .every(Duration.ofHours(1))         // or hourly, for a table that changed
 *         .keep(3)                            // the newest 3 per table; older ones are pruned
 *         .start()) {
 *     ...
 * }
 * }</pre>
 */
public final class Keyframer implements AutoCloseable {

    /** The default feed name. */
    public static final String DEFAULT_NAME = "keyframes";

    private final ChangeFeed feed;

    private Keyframer(ChangeFeed feed) {
        this.feed = feed;
    }

    /** The feed's state (running, retrying after a failure, stopped). */
    public ChangeFeed.State state() {
        return feed.state();
    }

    /** The last failure while retrying, if any. */
    public Optional<Throwable> failure() {
        return feed.failure();
    }

    /** The position of the last change counted (and committed). */
    public Optional<Position> position() {
        return feed.position();
    }

    /** Waits until every change in the log now has been counted (and any keyframe due written). */
    public boolean awaitCaughtUp(Duration timeout) {
        return feed.awaitCaughtUp(timeout);
    }

    /** Stops the keyframer; a keyframe being written is rolled back with its batch, and written again on the next start. */
    @Override
    public void close() {
        feed.close();
    }

    @Override
    public String toString() {
        return "Keyframer[" + feed.name() + "]";
    }

    /**
     * How a keyframer runs. At least one trigger is needed; {@code everyChanges} defaults to
     * {@value #DEFAULT_EVERY_CHANGES}.
     *
     * <pre>{@code
     * Keyframer k = trail.keyframes().keyframer().everyChanges(500_000).keep(2).start();
     * }</pre>
     */
    public static final class Builder {
        /** The default number of a table's changes between two of its keyframes. */
        public static final long DEFAULT_EVERY_CHANGES = 100_000;
        /** The default least number of changes per row of a table between two of its keyframes. */
        public static final double DEFAULT_CHANGES_PER_ROW = 4;

        private final ChangeLogReader log;
        private String name = DEFAULT_NAME;
        private long everyChanges = DEFAULT_EVERY_CHANGES;
        private Duration every;
        private double changesPerRow = DEFAULT_CHANGES_PER_ROW;
        private int keep = 3;
        private int batchSize = 10_000;
        private Duration pollInterval = Duration.ofSeconds(1);

        Builder(ChangeLogReader log) {
            this.log = log;
        }

        /** The feed's name (default {@value Keyframer#DEFAULT_NAME}); one keyframer per name should run. */
        public Builder named(String feedName) {
            if (feedName == null || feedName.isBlank()) {
                throw new IllegalArgumentException("A keyframer needs a feed name, e.g. \"keyframes\"; got "
                        + (feedName == null ? "none" : "'" + feedName + "'"));
            }
            this.name = feedName;
            return this;
        }

        /**
         * A keyframe of a table after every {@code n} changes of it. Smaller is faster to read (fewer
         * changes after the nearest keyframe) but costlier to keep (each keyframe copies the whole
         * table); a few times the table's row count keeps the copying a small fraction of the log's
         * own writes. {@code 0} turns this trigger off (then {@link #every(Duration)} is needed).
         */
        public Builder everyChanges(long n) {
            if (n < 0) {
                throw new IllegalArgumentException("everyChanges must be a positive number of changes of a table, e.g."
                        + " 100000 (or 0 for no change-count trigger), not " + n);
            }
            this.everyChanges = n;
            return this;
        }

        /**
         * With {@link #everyChanges(long)}: a keyframe only once the table has had at least
         * {@code f} changes per row since its last one (its rows estimated from the last keyframe's
         * and the creates and deletes since). A keyframe copies every row of the table, so this
         * bounds the rows copied to 1/f per change of the log, and skips tables where a keyframe
         * would save little: a read from the log costs about as much as a copy when each row has
         * changed only once or twice. Default {@value #DEFAULT_CHANGES_PER_ROW}; 0 for none.
         */
        public Builder changesPerRow(double f) {
            if (!(f >= 0) || Double.isInfinite(f)) {
                throw new IllegalArgumentException("changesPerRow must be a number of changes per row, 0 or more, e.g. 4"
                        + " (0: no such condition), not " + f);
            }
            this.changesPerRow = f;
            return this;
        }

        /**
         * Also a keyframe of a table once {@code interval} has passed since its last one, if it has
         * changed since (checked as changes arrive). {@code null} turns this trigger off (the default).
         */
        public Builder every(Duration interval) {
            if (interval != null && (interval.isNegative() || interval.isZero())) {
                throw new IllegalArgumentException("The keyframe interval must be positive, e.g. Duration.ofHours(1), not "
                        + interval);
            }
            this.every = interval;
            return this;
        }

        /** Keep the newest {@code keyframes} of each table, pruning older ones as new ones come (default 3). */
        public Builder keep(int keyframes) {
            if (keyframes < 1) {
                throw new IllegalArgumentException("A keyframer keeps at least 1 keyframe per table (the newest), not "
                        + keyframes);
            }
            this.keep = keyframes;
            return this;
        }

        /**
         * Ids of the log counted per feed batch (default 10,000). The server does the counting, so
         * memory does not grow with it; a due keyframe is written at the end of the batch in which
         * it came due, so this is also how far past its trigger a keyframe may land.
         */
        public Builder batchSize(int size) {
            if (size < 1 || size > 100_000) {
                throw new IllegalArgumentException("The keyframer's batch size must be 1 to 100,000, not " + size);
            }
            this.batchSize = size;
            return this;
        }

        /** How often the feed looks for new changes besides notifications (default 1 s). */
        public Builder pollInterval(Duration interval) {
            if (interval == null || interval.isNegative() || interval.isZero()) {
                throw new IllegalArgumentException("The keyframer's poll interval must be positive, not " + interval);
            }
            this.pollInterval = interval;
            return this;
        }

        /** Creates the keyframe tables if missing and starts the keyframer on its own thread. */
        public Keyframer start() {
            if (everyChanges == 0 && every == null) {
                throw new IllegalArgumentException("A keyframer needs a trigger: everyChanges(n) with n > 0, every(interval),"
                        + " or both");
            }
            KeyframeStore.install(log.dataSource());
            Rules rules = new Rules(name, everyChanges, changesPerRow, every, keep);
            ChangeFeed feed = ChangeFeed.from(ChangeLog.at(log.dataSource()))
                    .named(name)
                    .batchSize(batchSize)
                    .pollInterval(pollInterval)
                    .startCounting(log.dataSource(), (tallies, last, tx) -> handle(tallies, last, tx, rules));
            return new Keyframer(feed);
        }
    }

    /** A keyframer's settings; {@code name}, its feed's, also keys its counts in {@code annals.keyframe_progress}. */
    private record Rules(String name, long everyChanges, double changesPerRow, Duration every, int keep) {
    }

    /** Adds the batch's counts per table and writes, in the batch's transaction, the keyframes now due. */
    private static void handle(List<ChangeFeed.Tally> tallies, Position last, Connection tx, Rules rules)
            throws SQLException {
        Map<TableName, long[]> counts = new LinkedHashMap<>(); // changes, creates, deletes
        for (ChangeFeed.Tally t : tallies) {
            long[] n = counts.computeIfAbsent(new TableName(t.schema(), t.table()), k -> new long[3]);
            n[0] += t.changes();
            switch (t.operation()) {
                case CREATE, SNAPSHOT -> n[1] += t.changes();
                case DELETE -> n[2] += t.changes();
                default -> { }
            }
        }
        for (Map.Entry<TableName, long[]> e : counts.entrySet()) {
            TableName table = e.getKey();
            try (PreparedStatement ps = tx.prepareStatement("INSERT INTO annals.keyframe_progress AS p (keyframer, \"schema\","
                    + " \"table\", pending_changes, pending_creates, pending_deletes, last_built_at) VALUES (?, ?, ?, ?, ?, ?, now())"
                    + " ON CONFLICT (keyframer, \"schema\", \"table\") DO UPDATE SET pending_changes = p.pending_changes + EXCLUDED.pending_changes,"
                    + " pending_creates = p.pending_creates + EXCLUDED.pending_creates,"
                    + " pending_deletes = p.pending_deletes + EXCLUDED.pending_deletes"
                    + " RETURNING pending_changes, last_built_at, skipped_because,"
                    + " greatest(1, last_rows + pending_creates - pending_deletes)")) {
                ps.setString(1, rules.name());
                ps.setString(2, table.schema());
                ps.setString(3, table.table());
                ps.setLong(4, e.getValue()[0]);
                ps.setLong(5, e.getValue()[1]);
                ps.setLong(6, e.getValue()[2]);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    long pending = rs.getLong(1);
                    OffsetDateTime since = rs.getObject(2, OffsetDateTime.class);
                    if (rs.getString(3) != null) continue;
                    long rows = rs.getLong(4);
                    boolean due = (rules.everyChanges() > 0 && pending >= rules.everyChanges()
                            && pending >= rules.changesPerRow() * rows)
                            || (rules.every() != null && since != null
                            && !since.plus(rules.every()).isAfter(OffsetDateTime.now(ZoneOffset.UTC)));
                    if (due) build(tx, table, last, rules);
                }
            }
        }
    }

    private static void build(Connection tx, TableName table, Position at, Rules rules) throws SQLException {
        String refusal = KeyframeStore.refusal(tx, table, at);
        if (refusal != null) {
            try (PreparedStatement ps = tx.prepareStatement("UPDATE annals.keyframe_progress SET skipped_because = ?"
                    + " WHERE keyframer = ? AND \"schema\" = ? AND \"table\" = ?")) {
                ps.setString(1, refusal);
                ps.setString(2, rules.name());
                ps.setString(3, table.schema());
                ps.setString(4, table.table());
                ps.executeUpdate();
            }
            return;
        }
        long rows;
        try {
            rows = KeyframeStore.write(tx, table, at, "keyframer").rows();
        } catch (HistoryException e) {
            throw new HistoryException("The keyframer could not write a keyframe of " + table + " at " + at + ": "
                    + e.getMessage(), e);
        }
        KeyframeStore.keepNewest(tx, table, rules.keep());
        try (PreparedStatement ps = tx.prepareStatement("UPDATE annals.keyframe_progress SET pending_changes = 0,"
                + " pending_creates = 0, pending_deletes = 0, last_rows = ?, last_built_at = now()"
                + " WHERE keyframer = ? AND \"schema\" = ? AND \"table\" = ?")) {
            ps.setLong(1, rows);
            ps.setString(2, rules.name());
            ps.setString(3, table.schema());
            ps.setString(4, table.table());
            ps.executeUpdate();
        }
    }
}
