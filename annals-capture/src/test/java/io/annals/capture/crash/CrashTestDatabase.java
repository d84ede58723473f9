package io.annals.capture.crash;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.changelog.Position;
import io.annals.testkit.TestPostgres;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * A fresh database of the shared embedded server for one crash scenario, with its slot, and the checks
 * that the change log holds every change exactly once.
 */
final class CrashTestDatabase implements AutoCloseable {

    final String url;
    final String name;
    final String slot;

    private CrashTestDatabase(String url, String slot) {
        this.url = url;
        this.name = url.substring(url.lastIndexOf('/') + 1, url.indexOf('?'));
        this.slot = slot;
    }

    static CrashTestDatabase create(String prefix, String slot) {
        return new CrashTestDatabase(TestPostgres.newDatabase(prefix), slot);
    }

    /**
     * Starts the worker once in this JVM so that it creates the change log, publication and slot (and takes
     * the initial snapshot of the still empty tables), then stops it cleanly. Changes made afterwards can only
     * reach the change log through the slot.
     */
    void prepareSlot(int batchSize) {
        try (CaptureWorker worker = CaptureWorker.start(CaptureOptions.builder(url).slot(slot).batchSize(batchSize).build())) {
            worker.awaitCaughtUp(Duration.ofSeconds(60));
        }
        awaitSlotReleased(Duration.ofSeconds(60));
    }

    /**
     * Waits until no walsender holds the slot. After a SIGKILL the server notices the dead connection a
     * moment later; until then a new worker is refused with "slot in use".
     *
     * @return how long it took
     */
    Duration awaitSlotReleased(Duration timeout) {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        try (Connection c = TestPostgres.connect(url);
             PreparedStatement ps = c.prepareStatement("SELECT active FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            while (true) {
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next() || !rs.getBoolean(1)) return Duration.ofNanos(System.nanoTime() - start);
                }
                if (System.nanoTime() > deadline) fail("Slot " + slot + " still active after " + timeout);
                Thread.sleep(20);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * The SNAPSHOT changes an initial snapshot taken now must record: every row of {@code tables} (in name
     * order, each in scan order) with its full image.
     */
    List<Workload.Change> snapshotOf(String... tables) throws SQLException {
        List<Workload.Change> out = new ArrayList<>();
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement()) {
            for (String table : java.util.Arrays.stream(tables).sorted().toList()) {
                try (ResultSet rs = s.executeQuery("SELECT jsonb_build_object('id', t.id)::text, to_jsonb(t)::text FROM "
                        + table + " t")) {
                    while (rs.next()) {
                        out.add(new Workload.Change(table, Workload.json(rs.getString(1)), "SNAPSHOT",
                                Workload.json(rs.getString(2))));
                    }
                }
            }
        }
        return out;
    }

    /** Runs the worker in this JVM until it has caught up, then stops it cleanly. */
    void catchUpInProcess(int batchSize) {
        try (CaptureWorker worker = CaptureWorker.start(CaptureOptions.builder(url).slot(slot).batchSize(batchSize).build())) {
            worker.awaitCaughtUp(Duration.ofSeconds(60));
        }
        awaitSlotReleased(Duration.ofSeconds(60));
    }

    /** A change as stored. */
    record Stored(String position, Workload.Change change) { }

    List<Stored> storedChanges() throws SQLException {
        List<Stored> out = new ArrayList<>();
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement()) {
            s.setFetchSize(10_000);
            c.setAutoCommit(false);
            try (ResultSet rs = s.executeQuery("SELECT position, \"table\", primary_key::text, operation, after::text"
                    + " FROM annals.changes ORDER BY position")) {
                while (rs.next()) {
                    out.add(new Stored(rs.getString(1), new Workload.Change(rs.getString(2), Workload.json(rs.getString(3)),
                            rs.getString(4), Workload.json(rs.getString(5)))));
                }
            }
            c.commit();
        }
        return out;
    }

    long queryLong(String sql) throws SQLException {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    String queryString(String sql) throws SQLException {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    /**
     * The change log holds exactly {@code expected}: same count, positions unique, each change once and in
     * commit order, and the checkpoint at the last change.
     */
    void assertExactlyOnce(List<Workload.Change> expected) throws SQLException {
        List<Stored> stored = storedChanges();
        long rows = queryLong("SELECT count(*) FROM annals.changes");
        long distinctPositions = queryLong("SELECT count(DISTINCT position) FROM annals.changes");
        assertThat(distinctPositions).as("distinct positions among %d rows", rows).isEqualTo(rows);

        Map<Workload.Change, List<String>> positions = new LinkedHashMap<>();
        for (Stored s : stored) positions.computeIfAbsent(s.change(), k -> new ArrayList<>()).add(s.position());
        Map<Workload.Change, Integer> wanted = new HashMap<>();
        for (Workload.Change c : expected) wanted.merge(c, 1, Integer::sum);
        assertThat(wanted.values()).as("the workload's changes are distinct").allMatch(n -> n == 1);

        List<String> problems = new ArrayList<>();
        int missing = 0;
        for (Workload.Change c : expected) {
            if (!positions.containsKey(c) && missing++ < 10) problems.add("missing: " + c);
        }
        int duplicated = 0;
        int unexpected = 0;
        for (Map.Entry<Workload.Change, List<String>> e : positions.entrySet()) {
            if (!wanted.containsKey(e.getKey())) {
                if (unexpected++ < 10) problems.add("unexpected: " + e.getKey() + " at " + e.getValue());
            } else if (e.getValue().size() > 1) {
                if (duplicated++ < 10) problems.add("stored " + e.getValue().size() + " times: " + e.getKey() + " at " + e.getValue());
            }
        }
        if (!problems.isEmpty()) {
            fail("The change log of " + name + " holds " + rows + " changes, expected " + expected.size() + ": " + missing
                    + " missing, " + duplicated + " duplicated, " + unexpected + " unexpected. First problems:\n  "
                    + String.join("\n  ", problems));
        }
        assertThat(rows).as("rows in annals.changes").isEqualTo(expected.size());
        for (int i = 0; i < expected.size(); i++) {
            if (!stored.get(i).change().equals(expected.get(i))) {
                fail("The change log of " + name + " is out of commit order at index " + i + ": " + stored.get(i)
                        + ", expected " + expected.get(i));
            }
        }

        String checkpoint = queryString("SELECT position FROM annals.checkpoints WHERE consumer = '" + slot + "'");
        String last = stored.isEmpty() ? null : stored.get(stored.size() - 1).position();
        assertThat(checkpoint).as("checkpoint position of %s", slot).isEqualTo(last);
        if (last != null) {
            long confirmed = queryLong("SELECT coalesce(confirmed_lsn, '0/0') - '0/0'::pg_lsn FROM annals.checkpoints"
                    + " WHERE consumer = '" + slot + "'");
            assertThat(Long.compareUnsigned(confirmed, Position.parse(last).lsn()))
                    .as("checkpoint confirmed_lsn %s covers the last change's commit %s", Position.formatLsn(confirmed),
                            Position.parse(last).lsnText())
                    .isPositive();
        }
    }

    /**
     * Whatever a crash interrupted, the checkpoint and the changes it covers were committed together: the
     * checkpoint's position is the last stored change's.
     */
    void assertCheckpointAtLastChange(String when) throws SQLException {
        // One statement, one snapshot: a killed worker's last COMMIT may still be landing.
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT (SELECT position FROM annals.checkpoints WHERE consumer = '" + slot + "'),"
                     + " (SELECT max(position) FROM annals.changes)")) {
            rs.next();
            assertThat(rs.getString(1)).as("checkpoint position %s", when).isEqualTo(rs.getString(2));
        }
    }

    /** Drops the slot and the database, so that their WAL and rows do not linger on the shared server. */
    @Override
    public void close() {
        try {
            awaitSlotReleased(Duration.ofSeconds(60));
        } catch (RuntimeException | AssertionError e) {
            // Drop what can be dropped anyway.
        }
        try (Connection c = TestPostgres.server().connect("postgres"); Statement s = c.createStatement()) {
            try (PreparedStatement ps = c.prepareStatement("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots"
                    + " WHERE database = ? AND active_pid IS NOT NULL")) {
                ps.setString(1, name);
                ps.execute();
            }
            for (int attempt = 0; ; attempt++) {
                try (PreparedStatement ps = c.prepareStatement(
                        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = ?")) {
                    ps.setString(1, name);
                    ps.execute();
                    break;
                } catch (SQLException e) {
                    if (attempt >= 50) throw e;
                    Thread.sleep(100); // the terminated walsender may still hold it
                }
            }
            s.execute("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
        } catch (SQLException e) {
            System.out.println("Could not drop database " + name + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
