package io.annals.changelog;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Objects;

/**
 * The change log's side of retention: the writes that drop old partitions of
 * {@code annals.changes} and the baseline written in their place, each in the caller's
 * transaction. Which rows a baseline holds is the audit trail's question (time travel's notion of
 * a row alive at an instant), so the caller names them with a query; how they are stored (their
 * positions, their context, the append lock) is the change log's, and the change feed relies on it.
 *
 * <pre>{@code
 * connection.setAutoCommit(false);
 * Pruning.lockPartitions(connection, List.of("changes_20250101"));
 * long rows = Pruning.appendBaseline(connection, lastDropped, cutOff, "SELECT ... FROM annals.changes ...",
 *         (ps, first) -> ps.setObject(first, cutOffTime));
 * Pruning.dropPartitions(connection, List.of("changes_20250101"));
 * connection.commit();
 * }</pre>
 */
public final class Pruning {

    /** The context key that marks a change as a retention baseline, with {@code cut_off} and {@code dropped_through}. */
    public static final String BASELINE_CONTEXT_KEY = "annals.retention";

    /** The key of the advisory lock that partition creation ({@code annals.create_change_partitions}) also takes. */
    private static final String PARTITION_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('annals.changes partitions', 0))";

    /** Binds the parameters of a caller's query, the first at index {@code first}. */
    @FunctionalInterface
    public interface Binder {
        void bind(PreparedStatement statement, int first) throws SQLException;
    }

    private Pruning() {
    }

    /** Takes the lock partition creation takes, for the rest of the transaction: no partition comes or goes meanwhile. */
    public static void lockPartitionSet(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(PARTITION_LOCK);
        }
    }

    /**
     * Blocks writes into {@code partitions} (reads go on) until the transaction ends, so that no
     * late write lands in a partition about to go without being in the baseline.
     */
    public static void lockPartitions(Connection c, List<String> partitions) throws SQLException {
        if (partitions.isEmpty()) return;
        try (Statement s = c.createStatement()) {
            s.execute("LOCK TABLE " + String.join(", ", partitions.stream().map(Pruning::qualified).toList()) + " IN SHARE MODE");
        }
    }

    /** Makes sure the partition that holds {@code at} exists, in the caller's transaction (a baseline lands there). */
    public static void createPartitionFor(Connection c, Instant at) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT annals.create_change_partitions(?, ?)")) {
            ps.setObject(1, utc(at));
            ps.setObject(2, utc(at));
            ps.execute();
        }
    }

    /**
     * Appends a retention baseline: one SNAPSHOT row per row of {@code aliveRows}, committed at
     * {@code cutOff}, positioned right after {@code lastDropped} (its commit LSN, ordinals
     * continuing after its own, in the order of schema, table and key), with the context
     * {@code {"annals.retention": {"cut_off": ..., "dropped_through": ...}}}. Like every append it
     * holds the append lock ({@link ChangeLog#lockAppends}).
     *
     * @param aliveRows a query with the columns {@code database, "schema", "table", primary_key, after, withheld}
     * @param binder    binds {@code aliveRows}' parameters
     * @return how many rows were appended
     * @throws ChangeLogException if the baseline needs more ordinals than a position holds
     */
    public static long appendBaseline(Connection c, Position lastDropped, Instant cutOff, String aliveRows, Binder binder)
            throws SQLException {
        Objects.requireNonNull(lastDropped, "lastDropped");
        ChangeLog.lockAppends(c);
        long written;
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO annals.changes (position, transaction_id, committed_at,"
                + " database, \"schema\", \"table\", operation, primary_key, before, after, changed_columns, context, withheld)"
                + " SELECT annals.position_text(a.lsn, a.after_ordinal + row_number() OVER (ORDER BY a.\"schema\", a.\"table\","
                + " a.primary_key)), 0, a.cut_off, a.database, a.\"schema\", a.\"table\", 'SNAPSHOT', a.primary_key, NULL,"
                + " a.after, NULL, jsonb_build_object('" + BASELINE_CONTEXT_KEY + "', jsonb_build_object('cut_off', a.cut_off_text,"
                + " 'dropped_through', a.dropped_through)), a.withheld"
                + " FROM (SELECT alive.*, ?::bigint AS lsn, ?::bigint AS after_ordinal, ?::timestamptz AS cut_off,"
                + " ?::text AS cut_off_text, ?::text AS dropped_through FROM (" + aliveRows + ") alive) a")) {
            ps.setLong(1, lastDropped.lsn());
            ps.setLong(2, lastDropped.ordinal());
            ps.setObject(3, utc(cutOff));
            ps.setString(4, cutOff.toString());
            ps.setString(5, lastDropped.toString());
            binder.bind(ps, 6);
            written = ps.executeLargeUpdate();
        }
        if (lastDropped.ordinal() + written > Position.MAX_ORDINAL) {
            throw new ChangeLogException("Cannot write a baseline of " + written + " rows after position " + lastDropped
                    + ": positions hold at most " + Position.MAX_ORDINAL + " ordinals per commit. Drop fewer partitions at"
                    + " a time (keep a longer age).");
        }
        return written;
    }

    /** Drops {@code partitions} of {@code annals.changes}, in the caller's transaction. */
    public static void dropPartitions(Connection c, List<String> partitions) throws SQLException {
        try (Statement s = c.createStatement()) {
            for (String p : partitions) s.execute("DROP TABLE " + qualified(p));
        }
    }

    /** A partition of {@code annals.changes}, as SQL names it. */
    public static String qualified(String partition) {
        return Sql.qualified(ChangeLog.SCHEMA, partition);
    }

    private static OffsetDateTime utc(Instant instant) {
        return OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
    }
}
