package io.annals.changelog;

import org.flywaydb.core.Flyway;
import org.postgresql.ds.PGSimpleDataSource;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * The change log in schema {@code annals} of a target database: its schema migrations, its
 * checkpoints, and a writer for new changes.
 *
 * <pre>{@code
 * ChangeLog log = ChangeLog.at("jdbc:postgresql://localhost/app?user=annals");
 * log.migrate();
 * try (ChangeLogWriter w = log.openWriter("annals", c -> {})) {
 *     w.write(rows, commitEndLsn);
 * }
 * }</pre>
 */
public final class ChangeLog {

    /** The schema holding the change log; the capture worker never captures it. */
    public static final String SCHEMA = "annals";

    /** The channel on which writers announce, after committing, that new changes are in the log. */
    public static final String NOTIFY_CHANNEL = "annals_changes";

    /** Takes the lock of appends to {@code annals.changes} (see {@link #lockAppends}); its class spells "ANDC" in ASCII. */
    static final String LOCK_APPENDS_SQL = "SELECT pg_advisory_xact_lock(1095648323, 0)";

    private final DataSource dataSource;

    private ChangeLog(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** A change log in the database at {@code jdbcUrl}. */
    public static ChangeLog at(String jdbcUrl) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(jdbcUrl);
        ds.setApplicationName("annals");
        return new ChangeLog(ds);
    }

    /** A change log reached through {@code dataSource}. */
    public static ChangeLog at(DataSource dataSource) {
        return new ChangeLog(dataSource);
    }

    /** The data source this change log writes to. */
    public DataSource dataSource() {
        return dataSource;
    }

    /**
     * Creates or upgrades schema {@code annals} to the latest version with versioned Flyway
     * migrations, recorded in {@code annals.flyway_schema_history}. Safe to call on every start,
     * from several processes at once, and on a database whose schema {@code annals} already holds
     * the event store or a change feed's checkpoints.
     */
    public void migrate() {
        Flyway.configure()
                .dataSource(dataSource)
                .schemas(SCHEMA)
                .createSchemas(true)
                // Flyway refuses a non-empty schema without this history table, and schema annals may hold the
                // event store or a feed's checkpoints (each with a history of its own). Baselining at 0 lets V1
                // onwards run there; it happens only when the history table is missing, so a change log
                // installed before keeps its history untouched.
                .baselineOnMigrate(true)
                .baselineVersion("0")
                .locations("classpath:io/annals/changelog/migration")
                .load()
                .migrate();
    }

    /** The checkpoint of {@code consumer}, if it ever stored one. */
    public Optional<Checkpoint> checkpoint(String consumer) {
        try (Connection c = dataSource.getConnection()) {
            return readCheckpoint(c, consumer);
        } catch (SQLException e) {
            throw new ChangeLogException("Could not read the checkpoint of " + consumer + ": " + e.getMessage(), e);
        }
    }

    static Optional<Checkpoint> readCheckpoint(Connection c, String consumer) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT position, confirmed_lsn - '0/0'::pg_lsn, snapshot_state, snapshot_lsn - '0/0'::pg_lsn, updated_at"
                        + " FROM annals.checkpoints WHERE consumer = ?")) {
            ps.setString(1, consumer);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) return Optional.empty();
                String pos = rs.getString(1);
                return Optional.of(new Checkpoint(consumer, pos == null ? null : Position.parse(pos),
                        rs.getLong(2), SnapshotState.fromSql(rs.getString(3)), rs.getLong(4),
                        rs.getObject(5, java.time.OffsetDateTime.class).toInstant()));
            }
        }
    }

    /**
     * Opens a writer on its own connection. {@code sessionSetup} runs once on that connection
     * before anything is written (the capture worker uses it to mark its writes with a
     * replication origin, so that they are not captured back).
     */
    public ChangeLogWriter openWriter(String consumer, SqlConsumer<Connection> sessionSetup) {
        try {
            Connection c = dataSource.getConnection();
            try {
                sessionSetup.accept(c);
                return new ChangeLogWriter(c, consumer, new Partitions(dataSource),
                        new CommitNotifier(dataSource, NOTIFY_CHANNEL, "annals-changes-notifier-" + consumer));
            } catch (SQLException | RuntimeException e) {
                c.close();
                throw e;
            }
        } catch (SQLException e) {
            throw new ChangeLogException("Could not open the change log for writing: " + e.getMessage(), e);
        }
    }

    /**
     * Makes sure {@code annals.changes} has a partition for every commit time in [{@code from},
     * {@code to}], creating the missing ones (each spanning the {@link #partitionInterval()}) in
     * one short transaction. Idempotent and safe against concurrent callers. {@link ChangeLogWriter}
     * does this by itself; call it before writing to {@code annals.changes} any other way, since a
     * row with no partition for its commit time is refused.
     *
     * <pre>{@code
     * log.preparePartitions(Instant.parse("2024-01-01T00:00:00Z"), Instant.now());
     * }</pre>
     */
    public void preparePartitions(Instant from, Instant to) {
        Objects.requireNonNull(from, "from");
        Objects.requireNonNull(to, "to");
        if (to.isBefore(from)) {
            throw new IllegalArgumentException("The range of commit times ends (" + to + ") before it begins (" + from + ")");
        }
        new Partitions(dataSource).ensure(from, to);
    }

    /** How much commit time each new partition of {@code annals.changes} spans (default {@link PartitionInterval#MONTH}). */
    public PartitionInterval partitionInterval() {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT unit FROM annals.partitioning");
             ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) throw new ChangeLogException("annals.partitioning is empty; run ChangeLog.migrate() again");
            return PartitionInterval.fromSql(rs.getString(1));
        } catch (SQLException e) {
            throw new ChangeLogException("Could not read the partition interval of annals.changes: " + e.getMessage(), e);
        }
    }

    /**
     * Sets how much commit time partitions created from now on span. Existing partitions keep
     * their bounds; new ones fill the gaps between them, so partitions never overlap.
     */
    public void partitionInterval(PartitionInterval interval) {
        Objects.requireNonNull(interval, "interval");
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT annals.set_partition_interval(?)")) {
            ps.setString(1, interval.sqlName());
            ps.execute();
        } catch (SQLException e) {
            throw new ChangeLogException("Could not set the partition interval of annals.changes: " + e.getMessage(), e);
        }
    }

    /**
     * Takes, for the rest of {@code connection}'s transaction, the lock every append to
     * {@code annals.changes} holds from before its rows get their ids until it commits.
     *
     * <p>Why: readers of the log in id order (the change feed) must never find a lower id
     * committed after they read a higher one. Ids come from a sequence at insert time, so two
     * transactions appending at once could commit out of id order; with appends serialised, every
     * id that is not yet visible is higher than every visible one (or belongs to a rolled-back
     * append and never will be), and a reader may move past all it can see. A single capture
     * worker never waits on it; it only orders retention's baselines and other workers' batches.
     */
    public static void lockAppends(Connection connection) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(LOCK_APPENDS_SQL)) {
            ps.execute();
        }
    }

    /**
     * How many changes the log holds: counted when the planner's estimate is under
     * {@code exactCountBelow} (a count of a million narrow rows takes well under a second, and the
     * estimate of a small table not analyzed since its last changes can be far off, zero for a new
     * one) and the count finishes within 5 s; else that estimate, the sum over the partitions
     * (autovacuum analyzes partitions, never their parent), with when their statistics were taken.
     *
     * @param rows                 the changes stored (0 when there is no change log here)
     * @param exact                whether {@code rows} was counted
     * @param statisticsAnalyzedAt for an estimate, when the oldest partition statistics were taken,
     *                             if every partition has some
     */
    public record StoredChanges(long rows, boolean exact, Optional<Instant> statisticsAnalyzedAt) {
    }

    /** See {@link StoredChanges}. */
    public StoredChanges storedChanges(long exactCountBelow) {
        try (Connection c = dataSource.getConnection()) {
            long estimate;
            Instant analyzedAt;
            try (java.sql.Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("WITH parts AS ("
                         + " SELECT p.oid, p.reltuples FROM pg_class p WHERE p.oid = to_regclass('annals.changes') AND p.relkind = 'r'"
                         + " UNION ALL SELECT p.oid, p.reltuples FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhrelid"
                         + " WHERE i.inhparent = to_regclass('annals.changes'))"
                         + " SELECT to_regclass('annals.changes') IS NOT NULL, coalesce(sum(greatest(p.reltuples, 0)), 0)::bigint,"
                         + " CASE WHEN bool_and(greatest(st.last_analyze, st.last_autoanalyze) IS NOT NULL)"
                         + " THEN min(greatest(st.last_analyze, st.last_autoanalyze)) END"
                         + " FROM parts p LEFT JOIN pg_stat_user_tables st ON st.relid = p.oid")) {
                rs.next();
                if (!rs.getBoolean(1)) return new StoredChanges(0, true, Optional.empty());
                estimate = rs.getLong(2);
                java.time.OffsetDateTime at = rs.getObject(3, java.time.OffsetDateTime.class);
                analyzedAt = at == null ? null : at.toInstant();
            }
            if (estimate < exactCountBelow) {
                try (java.sql.Statement s = c.createStatement()) {
                    s.setQueryTimeout(5);
                    try (ResultSet rs = s.executeQuery("SELECT count(*) FROM annals.changes")) {
                        rs.next();
                        return new StoredChanges(rs.getLong(1), true, Optional.empty());
                    }
                } catch (SQLException e) {
                    if (!"57014".equals(e.getSQLState())) throw e; // 57014: cancelled by the timeout
                }
            }
            return new StoredChanges(estimate, false, Optional.ofNullable(analyzedAt));
        } catch (SQLException e) {
            throw new ChangeLogException("Could not count the changes stored: " + e.getMessage(), e);
        }
    }

    /**
     * Vacuums and analyzes {@code annals.changes}, every partition, as autovacuum would in time:
     * after a bulk {@link ChangeLogWriter#append}, so that queries are planned on statistics that
     * know the new rows and index-only scans find their pages all-visible. Waits until it is done.
     *
     * <pre>{@code
     * log.vacuumAnalyze();
     * }</pre>
     */
    public void vacuumAnalyze() {
        try (Connection c = dataSource.getConnection(); java.sql.Statement s = c.createStatement()) {
            c.setAutoCommit(true); // VACUUM cannot run inside a transaction block
            s.execute("VACUUM (ANALYZE) annals.changes");
        } catch (SQLException e) {
            throw new ChangeLogException("Could not vacuum and analyze annals.changes: " + e.getMessage(), e);
        }
    }

    /** A consumer that may throw {@link SQLException}. */
    @FunctionalInterface
    public interface SqlConsumer<T> {
        void accept(T t) throws SQLException;
    }
}
