package io.annals.history.keyframes;

import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.history.AuditTrail;
import io.annals.history.HistoryTestSupport;
import io.annals.history.internal.LiveImages;
import io.annals.history.internal.TableName;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** The background keyframer: what it writes, when, and that a kill mid-build leaves no trace. */
class KeyframerTest extends HistoryTestSupport {

    /** {@code n} transactions of table {@code table} (keys 1..keys), from LSN {@code lsn} on. */
    private static List<Row> changes(String table, int n, int keys, long lsn, Instant at, boolean keyless) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int key = 1 + i % keys;
            String pk = keyless ? null : "{\"id\": " + key + "}";
            Operation op = i < keys ? Operation.CREATE : (i % 7 == 0 ? Operation.DELETE : Operation.UPDATE);
            if (i >= keys && i % 7 == 1) op = Operation.CREATE; // re-created after its delete
            String after = op == Operation.DELETE ? null : "{\"id\": " + key + ", \"v\": " + i + "}";
            rows.add(new Row(Position.of(lsn + 0x100L * i, 0), 1000 + i, at.plusMillis(i), "public", table, op,
                    pk, op == Operation.CREATE ? null : pk, after, null, "{}"));
        }
        return rows;
    }

    /** Rows of the keyframe that differ from the table replayed from its whole log at the keyframe's position. */
    private static long differences(String url, Keyframe k) throws SQLException {
        TableName t = TableName.parse(k.table());
        try (Connection c = TestPostgres.connect(url);
             PreparedStatement ps = c.prepareStatement("WITH kf AS (SELECT primary_key, after FROM annals.keyframe_rows"
                     + " WHERE keyframe_id = ?), full_log AS (SELECT primary_key, after FROM (" + LiveImages.SQL + ") x)"
                     + " SELECT (SELECT count(*) FROM (TABLE kf EXCEPT ALL TABLE full_log) a)"
                     + " + (SELECT count(*) FROM (TABLE full_log EXCEPT ALL TABLE kf) b)")) {
            ps.setLong(1, k.id());
            String[] p = LiveImages.parameters(t, k.position().toString());
            for (int i = 0; i < p.length; i++) ps.setString(i + 2, p[i]);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    @Test
    void twoKeyframersOfDifferentNamesEachCountTheLogOnce() {
        String url = newChangeLog("keyframer_two_names");
        AuditTrail trail = AuditTrail.of(url);
        insert(url, changes("busy", 15, 6, 0x10000, T0, false));
        for (String name : List.of("keyframes-a", "keyframes-b")) {
            try (Keyframer k = trail.keyframes().keyframer().named(name).everyChanges(20).changesPerRow(0).start()) {
                assertThat(k.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
                assertThat(k.failure()).isEmpty();
            }
        }
        // Counts shared by table alone made 15 + 15 = 30 changes, and the second keyframer wrote a keyframe.
        assertThat(trail.keyframes().list("busy")).as("15 changes, fewer than 20, for each keyframer").isEmpty();
        assertThat(TestPostgres.rows(url, "SELECT keyframer, \"table\", pending_changes FROM annals.keyframe_progress ORDER BY 1"))
                .containsExactly("keyframes-a | busy | 15", "keyframes-b | busy | 15");
    }

    @Test
    void countsKeptBeforeProgressWasPerKeyframerGoOnAsTheDefaultKeyframers() {
        String url = newChangeLog("keyframer_progress_migration");
        org.postgresql.ds.PGSimpleDataSource ds = new org.postgresql.ds.PGSimpleDataSource();
        ds.setURL(url);
        // The keyframe tables as the first version made them, with a count in them.
        org.flywaydb.core.Flyway.configure().dataSource(ds).schemas("annals").table("keyframes_schema_history")
                .baselineOnMigrate(true).baselineVersion("0").locations("classpath:io/annals/history/keyframes/migration")
                .target("1").load().migrate();
        TestPostgres.execute(url, "INSERT INTO annals.keyframe_progress (\"schema\", \"table\", pending_changes, last_rows)"
                + " VALUES ('public', 'busy', 15, 6)");
        insert(url, changes("busy", 5, 6, 0x10000, T0, false));
        try (Keyframer k = AuditTrail.of(url).keyframes().keyframer().everyChanges(20).changesPerRow(0).start()) {
            assertThat(k.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
        }
        assertThat(TestPostgres.rows(url, "SELECT keyframer, pending_changes FROM annals.keyframe_progress"))
                .as("the 15 counted before and 5 now made 20: a keyframe, and the count starts again")
                .containsExactly("keyframes | 0");
        assertThat(AuditTrail.of(url).keyframes().list("busy")).hasSize(1);
    }

    @Test
    void writesAKeyframeEveryNChangesOfATableKeepsTheNewestAndSkipsTablesWithoutKey() throws Exception {
        String url = newChangeLog("keyframer_every_n");
        AuditTrail trail = AuditTrail.of(url);
        List<Row> rows = new ArrayList<>(changes("busy", 95, 6, 0x10000, T0, false));
        rows.addAll(changes("quiet", 5, 3, 0x900000, T0.plusSeconds(60), false));
        rows.addAll(changes("logs", 30, 3, 0x1000000, T0.plusSeconds(120), true));
        insert(url, rows);

        try (Keyframer k = trail.keyframes().keyframer().everyChanges(20).changesPerRow(0).keep(2).batchSize(10)
                .pollInterval(Duration.ofMillis(50)).start()) {
            assertThat(k.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
            assertThat(k.failure()).isEmpty();
        }
        List<Keyframe> busy = trail.keyframes().list("busy");
        // batches of 10: a keyframe at the end of every second batch of "busy" (20, 40, 60, 80 changes), newest 2 kept
        assertThat(busy).extracting(Keyframe::position)
                .containsExactly(rows.get(59).position(), rows.get(79).position());
        assertThat(busy).allMatch(kf -> kf.origin() == Keyframe.Origin.KEYFRAMER);
        for (Keyframe kf : busy) assertThat(differences(url, kf)).as("keyframe %s", kf).isZero();
        assertThat(trail.keyframes().list("quiet")).as("5 changes, fewer than 20").isEmpty();
        assertThat(trail.keyframes().list("logs")).isEmpty();
        assertThat(TestPostgres.rows(url, "SELECT \"table\", pending_changes, skipped_because IS NOT NULL"
                + " FROM annals.keyframe_progress ORDER BY 1"))
                .containsExactly("busy | 15 | f", "logs | 30 | t", "quiet | 5 | f");

        // restarted, it goes on from its checkpoint and its counts: 5 more changes of "busy" make 20
        insert(url, changes("busy", 5, 6, 0x2000000, T0.plusSeconds(600), false).stream()
                .map(r -> new Row(r.position(), r.xid(), r.committedAt(), r.schema(), r.table(), Operation.UPDATE,
                        r.primaryKey(), r.primaryKey(), r.after(), null, "{}")).toList());
        try (Keyframer k = trail.keyframes().keyframer().everyChanges(20).changesPerRow(0).keep(2).start()) {
            assertThat(k.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
        }
        List<Keyframe> after = trail.keyframes().list("busy");
        assertThat(after).hasSize(2);
        assertThat(after.get(1).position()).isEqualTo(Position.of(0x2000000 + 0x400, 0));
        assertThat(differences(url, after.get(1))).isZero();
    }

    /**
     * 100 rows created, then updated: no keyframe while the table has had fewer than 4 changes per
     * row since its last (none), one once it has; the next one again 4 changes per row later.
     */
    @Test
    void aKeyframeWaitsForEnoughChangesPerRow() throws Exception {
        String url = newChangeLog("keyframer_per_row");
        AuditTrail trail = AuditTrail.of(url);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 900; i++) {
            int key = 1 + i % 100;
            rows.add(new Row(Position.of(0x10000 + 0x100L * i, 0), 1000 + i, T0.plusMillis(i), "public", "t",
                    i < 100 ? Operation.CREATE : Operation.UPDATE, "{\"id\": " + key + "}", i < 100 ? null : "{\"id\": " + key + "}",
                    "{\"id\": " + key + ", \"v\": " + i + "}", null, "{}"));
        }
        insert(url, rows);
        try (Keyframer k = trail.keyframes().keyframer().everyChanges(10).batchSize(50).start()) {
            assertThat(k.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
        }
        // 400 changes (4 per row) after the 50-change batch that ends at change 400, then 400 more
        assertThat(trail.keyframes().list("t")).extracting(Keyframe::position, Keyframe::rows).containsExactly(
                org.assertj.core.groups.Tuple.tuple(rows.get(399).position(), 100L),
                org.assertj.core.groups.Tuple.tuple(rows.get(799).position(), 100L));
    }

    @Test
    void aTableThatChangedGetsAKeyframeOnceTheIntervalHasPassed() throws Exception {
        String url = newChangeLog("keyframer_every_t");
        AuditTrail trail = AuditTrail.of(url);
        insert(url, changes("t", 3, 3, 0x10000, T0, false));
        try (Keyframer k = trail.keyframes().keyframer().everyChanges(0).every(Duration.ofMillis(300))
                .pollInterval(Duration.ofMillis(50)).start()) {
            assertThat(k.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
            assertThat(trail.keyframes().list("t")).as("first counted now: the interval starts").isEmpty();
            Thread.sleep(400);
            insert(url, changes("t", 1, 3, 0x20000, T0.plusSeconds(5), false).stream()
                    .map(r -> new Row(r.position(), r.xid(), r.committedAt(), r.schema(), r.table(), Operation.UPDATE,
                            r.primaryKey(), r.primaryKey(), r.after(), null, "{}")).toList());
            assertThat(k.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
        }
        assertThat(trail.keyframes().list("t")).extracting(Keyframe::position, Keyframe::rows)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(Position.of(0x20000, 0), 3L));
    }

    /**
     * The keyframer's connection is killed while it inserts a keyframe's rows: nothing of that
     * keyframe is ever visible, and after its retry there is exactly one, whole. A watcher checks,
     * all along, that every visible keyframe holds as many rows as its header says.
     */
    @Test
    void aKillMidBuildLeavesNoHalfKeyframeAndNoDuplicate() throws Exception {
        String url = newChangeLog("keyframer_kill");
        AuditTrail trail = AuditTrail.of(url);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 40_000; i++) {
            rows.add(new Row(Position.of(0x10000, i), 9, T0, "public", "big", Operation.SNAPSHOT,
                    "{\"id\": " + i + "}", null, "{\"id\": " + i + ", \"pad\": \"" + "x".repeat(200) + "\"}", null, "{}"));
        }
        insert(url, rows);
        trail.keyframes().install();

        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger kills = new AtomicInteger();
        AtomicInteger checks = new AtomicInteger();
        AtomicReference<String> broken = new AtomicReference<>();
        Thread watcher = Thread.ofPlatform().start(() -> {
            try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement()) {
                while (!stop.get()) {
                    if (kills.get() == 0) {
                        try (ResultSet rs = s.executeQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                + " WHERE datname = current_database() AND state = 'active'"
                                + " AND query LIKE 'INSERT INTO annals.keyframe_rows%'")) {
                            while (rs.next()) if (rs.getBoolean(1)) kills.incrementAndGet();
                        }
                    }
                    try (ResultSet rs = s.executeQuery("SELECT k.id, k.row_count, (SELECT count(*) FROM annals.keyframe_rows r"
                            + " WHERE r.keyframe_id = k.id) FROM annals.keyframes k")) {
                        while (rs.next()) {
                            if (rs.getLong(2) != rs.getLong(3)) {
                                broken.set("keyframe " + rs.getLong(1) + " says " + rs.getLong(2) + " rows, holds " + rs.getLong(3));
                            }
                        }
                    }
                    checks.incrementAndGet();
                }
            } catch (SQLException e) {
                broken.compareAndSet(null, e.toString());
            }
        });
        try (Keyframer k = trail.keyframes().keyframer().everyChanges(1000).changesPerRow(0).batchSize(50_000)
                .pollInterval(Duration.ofMillis(50)).start()) {
            assertThat(k.awaitCaughtUp(Duration.ofSeconds(120))).isTrue();
        } finally {
            stop.set(true);
            watcher.join();
        }
        assertThat(kills.get()).as("the build was killed once").isEqualTo(1);
        assertThat(broken.get()).isNull();
        assertThat(checks.get()).isGreaterThan(1);
        List<Keyframe> kf = trail.keyframes().list("big");
        assertThat(kf).hasSize(1);
        assertThat(kf.get(0).rows()).isEqualTo(40_000);
        assertThat(kf.get(0).position()).isEqualTo(Position.of(0x10000, 39_999));
        assertThat(TestPostgres.rows(url, "SELECT count(*) FROM annals.keyframe_rows")).containsExactly("40000");
        assertThat(TestPostgres.rows(url, "SELECT pending_changes FROM annals.keyframe_progress")).containsExactly("0");
    }
}
