package io.annals.history.retention;

import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeLogException;
import io.annals.changelog.Pruning;
import io.annals.changelog.Position;
import io.annals.changelog.Sql;
import io.annals.changelog.feed.ChangeFeed;
import io.annals.history.AuditTrail;
import io.annals.history.HistoryException;
import io.annals.history.internal.ChangeLogReader;
import io.annals.history.internal.KeyframeStore;
import io.annals.history.internal.Makers;
import io.annals.history.internal.TableName;
import io.annals.history.timetravel.AsOf;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A retention policy for the change log: drop the partitions of {@code annals.changes} older than
 * an age, after writing a SNAPSHOT baseline of every row alive at the cut-off, so that time travel
 * ({@link AsOf}) from the cut-off on gives exactly what it gave before.
 *
 * <p>The cut-off is aligned down to a partition boundary: retention drops whole partitions only
 * (a catalog operation, no row-by-row DELETE and no bloat). Applying runs in one transaction (the
 * baseline and the drops commit together or not at all) and is idempotent: run again with the same
 * age, it finds nothing older than the cut-off and does nothing.
 *
 * <p>The baseline rows have operation {@code SNAPSHOT}, {@code committed_at} = the cut-off (so they
 * land in the first kept partition), context {@code {"annals.retention": {"cut_off": ..., "dropped_through": ...}}},
 * and positions right after the last dropped change (its commit LSN, ordinals continuing after
 * its own): after every dropped change and before every kept one. Tables whose dropped changes
 * have no primary key get no baseline (their rows cannot be told apart); the plan names them.
 *
 * <p>The baseline also becomes a keyframe of each of its tables (see
 * {@link io.annals.history.keyframes.Keyframes}), and keyframes from before the cut-off are
 * deleted with the partitions, in the same transaction.
 *
 * <p>An immutable value; obtained from {@link AuditTrail#retention()}.
 *
 * <pre>{@code
 * Retention.Plan plan = trail.retention().keep(Duration.ofDays(90)).plan();   // what would happen
 * System.out.println(plan.describe());
 * Retention.Plan done = trail.retention().keep(Duration.ofDays(90)).apply();  // do it
 * }</pre>
 */
public final class Retention {

    static {
        // AuditTrail makes retentions through Makers: a constructor it could call would have to be public API.
        Makers.register((ChangeLogReader log) -> new Retention(log, null, null, false));
    }

    private final ChangeLogReader log;
    private final Duration keep;
    private final Instant keepFrom;
    private final boolean ignoringFeeds;

    private Retention(ChangeLogReader log, Duration keep, Instant keepFrom, boolean ignoringFeeds) {
        this.log = Objects.requireNonNull(log, "log");
        this.keep = keep;
        this.keepFrom = keepFrom;
        this.ignoringFeeds = ignoringFeeds;
    }

    /** Keeps the changes of the last {@code age} (rounded to whole partitions: a little more is kept, never less). */
    public Retention keep(Duration age) {
        Objects.requireNonNull(age, "age");
        if (age.isNegative() || age.isZero()) {
            throw new IllegalArgumentException("The age to keep must be positive, e.g. Duration.ofDays(90), not " + age);
        }
        return new Retention(log, age, null, ignoringFeeds);
    }

    /** Keeps the changes committed at or after {@code instant} (rounded down to a partition boundary). */
    public Retention keepFrom(Instant instant) {
        return new Retention(log, null, Objects.requireNonNull(instant, "instant"), ignoringFeeds);
    }

    /**
     * Drops the partitions even if a registered change feed has not read all their changes yet
     * (by default retention refuses, naming the feed). That feed then never gets those changes;
     * a feed that is gone for good is better removed with {@link ChangeFeed#forget}.
     */
    public Retention ignoringFeeds() {
        return new Retention(log, keep, keepFrom, true);
    }

    /** What {@link #apply()} would do now, without changing anything. */
    public Plan plan() {
        Instant target = target();
        try (Connection c = log.connect()) {
            return plan(c, target, false);
        } catch (SQLException e) {
            throw ChangeLogReader.failure("plan the retention of the change log", e);
        }
    }

    /**
     * Writes the baseline and drops the partitions before the cut-off, in one transaction, and
     * returns what it did. The plan is made again inside that transaction, under the lock that
     * partition creation takes, so what is applied is exactly what the returned plan says.
     *
     * @throws HistoryException when the change log holds nothing committed at or after the cut-off
     *                          (capture may still have older changes in flight, which the baseline
     *                          would miss), or when the log cannot be read or written
     */
    public Plan apply() {
        Instant target = target();
        KeyframeStore.install(log.dataSource());
        try (Connection c = log.connect()) {
            return Sql.inTransaction(c, tx -> apply(tx, target));
        } catch (ChangeLogException e) {
            throw new HistoryException(e.getMessage() + " Nothing was changed.", e);
        } catch (SQLException e) {
            throw ChangeLogReader.failure("apply the retention of the change log", e);
        }
    }

    private Plan apply(Connection c, Instant target) throws SQLException {
        Pruning.lockPartitionSet(c);
        Plan plan = plan(c, target, true);
        if (plan.partitions().isEmpty()) return plan;
        Pruning.createPartitionFor(c, plan.cutOff());
        long written = writeBaseline(c, plan);
        writeKeyframes(c, plan);
        Pruning.dropPartitions(c, plan.partitions().stream().map(Partition::name).toList());
        return new Plan(plan.cutOff(), plan.lastDropped(), plan.partitions(), written, plan.tablesWithoutPrimaryKey(), true);
    }

    private Instant target() {
        if (keepFrom != null) return keepFrom;
        if (keep == null) {
            throw new IllegalStateException("Say what to keep first: retention().keep(Duration.ofDays(90)) or"
                    + " retention().keepFrom(instant)");
        }
        return Instant.now().minus(keep);
    }

    // ---------------------------------------------------------------- planning

    /**
     * The plan at {@code target}. For {@code apply} (inside its transaction) it also locks the
     * partitions to drop, and leaves the baseline count to the INSERT that writes it (counting
     * first would compute the baseline twice).
     */
    private Plan plan(Connection c, Instant target, boolean forApply) throws SQLException {
        List<Partition> all = new ArrayList<>();
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT name, from_time, to_time FROM annals.change_partitions ORDER BY from_time")) {
            while (rs.next()) {
                all.add(new Partition(rs.getString(1), rs.getObject(2, OffsetDateTime.class).toInstant(),
                        rs.getObject(3, OffsetDateTime.class).toInstant(), 0));
            }
        }
        // The cut-off: the latest partition boundary at or before the target.
        Instant cutOff = null;
        for (Partition p : all) {
            for (Instant bound : new Instant[] {p.from(), p.to()}) {
                if (!bound.isAfter(target) && (cutOff == null || bound.isAfter(cutOff))) cutOff = bound;
            }
        }
        List<Partition> old = new ArrayList<>();
        for (Partition p : all) {
            if (cutOff != null && !p.to().isAfter(cutOff)) old.add(p);
        }
        if (old.isEmpty()) {
            return new Plan(cutOff == null ? target : cutOff, Optional.empty(), List.of(), 0, List.of(), false);
        }
        if (forApply) {
            // Late writes into the partitions about to go would be dropped without being in the
            // baseline: block them (reads go on) until this transaction ends.
            Pruning.lockPartitions(c, old.stream().map(Partition::name).toList());
        }
        List<Partition> dropped = new ArrayList<>();
        for (Partition p : old) {
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM " + qualified(p.name()))) {
                rs.next();
                dropped.add(new Partition(p.name(), p.from(), p.to(), rs.getLong(1)));
            }
        }
        refuseUnlessCaptureIsPast(c, cutOff);
        if (!ignoringFeeds) refuseUnlessFeedsArePast(c, cutOff);
        Position last = null;
        try (PreparedStatement ps = c.prepareStatement("SELECT max(position) FROM annals.changes WHERE committed_at < ?")) {
            ps.setObject(1, utc(cutOff));
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next() && rs.getString(1) != null) last = Position.parse(rs.getString(1));
            }
        }
        long baseline = 0;
        List<String> keyless = new ArrayList<>();
        if (last != null && !forApply) {
            try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM (" + ALIVE_SQL + ") alive")) {
                ps.setObject(1, utc(cutOff));
                ps.setObject(2, utc(cutOff));
                ps.setObject(3, utc(cutOff));
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    baseline = rs.getLong(1);
                }
            }
        }
        if (last != null) {
            try (PreparedStatement ps = c.prepareStatement("SELECT DISTINCT \"schema\", \"table\" FROM annals.changes"
                    + " WHERE committed_at < ? AND primary_key IS NULL AND operation <> 'TRUNCATE' ORDER BY 1, 2")) {
                ps.setObject(1, utc(cutOff));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) keyless.add(rs.getString(1) + "." + rs.getString(2));
                }
            }
            checkPositionsAreFree(c, cutOff, last);
        }
        return new Plan(cutOff, Optional.ofNullable(last), List.copyOf(dropped), baseline, List.copyOf(keyless), false);
    }

    /** Refuses while a registered change feed has not read every change the partitions to drop hold. */
    private void refuseUnlessFeedsArePast(Connection c, Instant cutOff) throws SQLException {
        List<ChangeFeed.Status> feeds = ChangeFeed.registered(ChangeLog.at(log.dataSource()));
        if (feeds.isEmpty()) return;
        long lastDropped;
        try (PreparedStatement ps = c.prepareStatement("SELECT coalesce(max(id), 0) FROM annals.changes WHERE committed_at < ?")) {
            ps.setObject(1, utc(cutOff));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                lastDropped = rs.getLong(1);
            }
        }
        List<String> behind = feeds.stream().filter(f -> f.lastId() < lastDropped)
                .map(f -> "'" + f.name() + "' (read up to " + f.position().map(Position::toString).orElse("nothing yet")
                        + ", " + f.changesBehind() + " changes behind" + f.lastError().map(e -> ", failing: " + e).orElse("")
                        + ")").toList();
        if (!behind.isEmpty()) {
            throw new HistoryException("Refusing to drop changes before " + cutOff + ": change feed " + String.join(", ", behind)
                    + " has not read them all yet. Nothing was changed. Let it catch up ('annals status' shows it), remove"
                    + " a feed that is gone for good with ChangeFeed.forget, or drop anyway with ignoringFeeds()"
                    + " ('annals retention --force'); such a feed then never gets those changes.");
        }
    }

    /**
     * Capture stores changes in commit order, so once the log holds a change committed at or after
     * the cut-off, every change committed before it is stored and the baseline misses none.
     */
    private static void refuseUnlessCaptureIsPast(Connection c, Instant cutOff) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT EXISTS (SELECT 1 FROM annals.changes WHERE committed_at >= ?),"
                + " (SELECT max(committed_at) FROM annals.changes WHERE committed_at < ?)")) {
            ps.setObject(1, utc(cutOff));
            ps.setObject(2, utc(cutOff));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    OffsetDateTime latest = rs.getObject(2, OffsetDateTime.class);
                    throw new HistoryException("Refusing to drop changes before " + cutOff + ": the change log holds nothing"
                            + " committed at or after it yet" + (latest == null ? "" : " (its latest change was committed "
                            + latest.toInstant() + ")") + ", so capture may still have earlier changes in flight that"
                            + " the baseline would miss. Keep a longer age, or retry once capture has stored changes"
                            + " committed after " + cutOff + ".");
                }
            }
        }
    }

    /**
     * The baseline takes the positions right after {@code last}, within its commit LSN; they must
     * sort before every kept change. Commit times follow positions only roughly (concurrent
     * commits can swap by microseconds), so a kept change could in principle sort before them:
     * refuse rather than write a baseline that time travel would read out of order.
     */
    private static void checkPositionsAreFree(Connection c, Instant cutOff, Position last) throws SQLException {
        Position end = Position.of(last.lsn(), Position.MAX_ORDINAL);
        try (PreparedStatement ps = c.prepareStatement("SELECT min(position) FROM annals.changes WHERE committed_at >= ?"
                + " AND position <= ?")) {
            ps.setObject(1, utc(cutOff));
            ps.setString(2, end.toString());
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next() && rs.getString(1) != null) {
                    throw new HistoryException("Cannot drop the changes before " + cutOff + ": the kept change at "
                            + rs.getString(1) + " sorts before the baseline's positions (right after " + last
                            + ") although it was committed later (commit times out of position order). Keep another age.");
                }
            }
        }
    }

    // ---------------------------------------------------------------- the baseline

    /**
     * Every row alive at the cut-off, with AsOf's semantics over the changes to be dropped: the
     * latest change of each key, unless it is a DELETE or older than its table's latest TRUNCATE;
     * tables with key-less changes are left out. One pass over the old partitions (pruned by
     * committed_at), sorted by the server, which spills to disk rather than growing memory.
     */
    private static final String ALIVE_SQL = "WITH latest AS ("
            + " SELECT DISTINCT ON (\"schema\", \"table\", primary_key) database, \"schema\", \"table\", primary_key,"
            + " operation, position, after, withheld FROM annals.changes WHERE committed_at < ? AND primary_key IS NOT NULL"
            + " ORDER BY \"schema\", \"table\", primary_key, position DESC),"
            + " tables AS (SELECT \"schema\", \"table\", max(position) FILTER (WHERE operation = 'TRUNCATE') AS truncated,"
            + " bool_or(operation <> 'TRUNCATE') AS keyless FROM annals.changes WHERE committed_at < ? AND primary_key IS NULL"
            + " GROUP BY \"schema\", \"table\")"
            + " SELECT l.database, l.\"schema\", l.\"table\", l.primary_key, l.after, l.withheld FROM latest l"
            + " LEFT JOIN tables t ON t.\"schema\" = l.\"schema\" AND t.\"table\" = l.\"table\""
            + " WHERE l.operation <> 'DELETE' AND l.position > COALESCE(t.truncated, '') AND NOT COALESCE(t.keyless, false)"
            // A row an UPDATE moved to another key is no longer alive under its old one (see AsOf).
            + " AND NOT EXISTS (SELECT 1 FROM annals.changes m WHERE m.\"schema\" = l.\"schema\" AND m.\"table\" = l.\"table\""
            + " AND m.operation = 'UPDATE' AND m.committed_at < ? AND m.position > l.position"
            + " AND (m.before @> m.primary_key) IS NOT TRUE"
            + " AND (SELECT jsonb_object_agg(k, m.before -> k) FROM jsonb_object_keys(m.primary_key) k) = l.primary_key)";

    /** The baseline: every row alive at the cut-off, stored by the change log as a retention baseline. */
    private static long writeBaseline(Connection c, Plan plan) throws SQLException {
        Position last = plan.lastDropped().orElse(null);
        if (last == null) return 0;
        return Pruning.appendBaseline(c, last, plan.cutOff(), ALIVE_SQL, (ps, first) -> {
            for (int i = 0; i < 3; i++) ps.setObject(first + i, utc(plan.cutOff()));
        });
    }

    /**
     * The baseline becomes a keyframe of each of its tables, at its last position, so that reading
     * a table as of the cut-off or later starts from it; keyframes before the cut-off go with the
     * partitions (no cut before the baseline can be read any more). In retention's transaction.
     */
    private static void writeKeyframes(Connection c, Plan plan) throws SQLException {
        Position last = plan.lastDropped().orElse(null);
        if (last == null) return;
        Position end = null;
        try (PreparedStatement ps = c.prepareStatement("SELECT max(position) FROM annals.changes WHERE position > ?"
                + " AND position <= ? AND operation = 'SNAPSHOT'")) {
            ps.setString(1, last.toString());
            ps.setString(2, Position.of(last.lsn(), Position.MAX_ORDINAL).toString());
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next() && rs.getString(1) != null) end = Position.parse(rs.getString(1));
            }
        }
        KeyframeStore.deleteThrough(c, end == null ? last : end);
        if (end == null) return;
        for (TableName t : KeyframeStore.baselineTables(c, last, end)) {
            KeyframeStore.writeFromBaseline(c, t, last, end);
        }
    }

    private static OffsetDateTime utc(Instant instant) {
        return OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
    }

    private static String qualified(String partition) {
        return Pruning.qualified(partition);
    }

    // ---------------------------------------------------------------- values

    /**
     * What retention does (or did): the partitions it drops, and the baseline it writes first.
     *
     * <pre>{@code
     * Retention.Plan plan = trail.retention().keep(Duration.ofDays(90)).plan();
     * if (!plan.isEmpty()) System.out.println(plan.describe());
     * }</pre>
     *
     * @param cutOff                 the partition boundary: changes committed before it are dropped
     * @param lastDropped            the position of the last change dropped; the baseline follows it
     * @param partitions             the partitions dropped, oldest first, with their row counts
     * @param baselineRows           how many SNAPSHOT rows the baseline holds
     * @param tablesWithoutPrimaryKey tables whose dropped changes have no primary key: they get no baseline
     * @param applied                true when this plan was carried out
     */
    public record Plan(Instant cutOff, Optional<Position> lastDropped, List<Partition> partitions, long baselineRows,
                       List<String> tablesWithoutPrimaryKey, boolean applied) {

        /** True when there is nothing to drop (nothing is older than the cut-off, or it was dropped already). */
        public boolean isEmpty() {
            return partitions.isEmpty();
        }

        /** How many changes the dropped partitions hold. */
        public long droppedChanges() {
            return partitions.stream().mapToLong(Partition::changes).sum();
        }

        /** A readable account, one fact per line. */
        public String describe() {
            StringBuilder out = new StringBuilder();
            out.append("Cut-off: ").append(cutOff).append(" (changes committed before it are ")
                    .append(applied ? "dropped" : "to be dropped").append(")\n");
            if (partitions.isEmpty()) {
                return out.append("Nothing to drop: no partition of annals.changes ends at or before the cut-off.\n").toString();
            }
            lastDropped.ifPresent(p -> out.append("Last dropped position: ").append(p).append('\n'));
            for (Partition p : partitions) {
                out.append(applied ? "Dropped " : "Drop ").append(p.name()).append(" [").append(p.from()).append(", ")
                        .append(p.to()).append("): ").append(p.changes()).append(" changes\n");
            }
            out.append(applied ? "Wrote " : "Write ").append(baselineRows).append(" SNAPSHOT baseline rows committed at ")
                    .append(cutOff).append(" (every row alive at the cut-off)\n");
            if (!tablesWithoutPrimaryKey.isEmpty()) {
                out.append("No baseline for tables without a primary key (their older changes are dropped): ")
                        .append(String.join(", ", tablesWithoutPrimaryKey)).append('\n');
            }
            return out.toString();
        }
    }

    /**
     * One partition of {@code annals.changes}: the changes committed in [{@code from}, {@code to}).
     *
     * <pre>{@code
     * plan.partitions().forEach(p -> System.out.println(p.name() + ": " + p.changes()));
     * }</pre>
     */
    public record Partition(String name, Instant from, Instant to, long changes) {
    }
}
