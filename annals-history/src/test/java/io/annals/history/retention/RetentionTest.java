package io.annals.history.retention;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeLogWriter;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.changelog.feed.ChangeFeed;
import io.annals.history.AuditTrail;
import io.annals.history.Change;
import io.annals.history.HistoryException;
import io.annals.history.HistoryTestSupport;
import io.annals.history.timetravel.AsOf;
import io.annals.history.timetravel.AsOfPlans;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Retention: the plan, the baseline, the drops, and time travel from the cut-off on. */
class RetentionTest extends HistoryTestSupport {

    /** Builds change rows transaction by transaction at given commit times, written through ChangeLogWriter. */
    static final class Changes {
        final List<ChangeRow> rows = new ArrayList<>();
        private long lsn = 0x10000;
        private long ordinal;
        private long xid = 500;
        private Instant at;

        Changes tx(String instant) {
            return tx(Instant.parse(instant));
        }

        Changes tx(Instant instant) {
            lsn += 0x100;
            ordinal = 0;
            xid++;
            at = instant;
            return this;
        }

        Position last() {
            return rows.get(rows.size() - 1).position();
        }

        Changes write(String table, Operation op, Integer key, String after) {
            String pk = key == null ? null : "{\"id\": " + key + "}";
            rows.add(new ChangeRow(Position.of(lsn, ordinal++), xid, at, "app", "public", table, op, pk,
                    op == Operation.CREATE || op == Operation.SNAPSHOT ? null : pk, after, null, "{}"));
            return this;
        }

        void into(String url) {
            try (ChangeLogWriter w = ChangeLog.at(url).openWriter("test", c -> { })) {
                w.write(rows, 0);
            }
        }
    }

    static long count(String url, String sql) {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    static List<String> strings(String url, String sql) {
        List<String> out = new ArrayList<>();
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) out.add(rs.getString(1));
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
        return out;
    }

    static String table(AsOf asOf, String table) {
        try (Stream<JsonNode> rows = asOf.table(table)) {
            return rows.toList().toString();
        }
    }

    /**
     * Four months of 2025. At the end of February (the cut-off, once January and February go):
     * orders 1 paid, orders 3 shipped, customers 2; orders 2 deleted, customers 1 truncated away.
     */
    static final class Fixture {
        final Changes log = new Changes();
        final Position feb28;
        final Position mar1;
        final Position mar20;
        final Position apr2;

        Fixture() {
            log.tx("2025-01-10T08:00:00Z").write("orders", Operation.CREATE, 1, "{\"id\": 1, \"status\": \"new\"}")
                    .write("orders", Operation.CREATE, 2, "{\"id\": 2, \"status\": \"new\"}")
                    .write("logs", Operation.CREATE, null, "{\"msg\": \"a\"}");
            log.tx("2025-01-20T08:00:00Z").write("orders", Operation.UPDATE, 1, "{\"id\": 1, \"status\": \"paid\"}")
                    .write("customers", Operation.CREATE, 1, "{\"id\": 1, \"name\": \"Ann\"}");
            log.tx("2025-02-05T08:00:00Z").write("orders", Operation.DELETE, 2, null)
                    .write("orders", Operation.CREATE, 3, "{\"id\": 3, \"status\": \"new\"}");
            log.tx("2025-02-20T08:00:00Z").write("customers", Operation.TRUNCATE, null, null)
                    .write("customers", Operation.CREATE, 2, "{\"id\": 2, \"name\": \"Bo\"}");
            log.tx("2025-02-28T23:59:59.999999Z").write("orders", Operation.UPDATE, 3, "{\"id\": 3, \"status\": \"shipped\"}");
            feb28 = log.last();
            log.tx("2025-03-01T00:00:00Z").write("orders", Operation.UPDATE, 1, "{\"id\": 1, \"status\": \"refunded\"}");
            mar1 = log.last();
            log.tx("2025-03-20T08:00:00Z").write("orders", Operation.CREATE, 4, "{\"id\": 4, \"status\": \"new\"}");
            mar20 = log.last();
            log.tx("2025-04-02T08:00:00Z").write("orders", Operation.DELETE, 3, null);
            apr2 = log.last();
        }
    }

    private static final Instant MARCH = Instant.parse("2025-03-01T00:00:00Z");

    @Test
    void thePlanListsWhatApplyDoesAndTimeTravelFromTheCutOffIsUnchanged() {
        String url = newChangeLog("retention_plan_apply");
        Fixture f = new Fixture();
        f.log.into(url);
        AuditTrail trail = AuditTrail.of(url);
        Retention retention = trail.retention().keepFrom(Instant.parse("2025-03-15T00:00:00Z"));

        Retention.Plan plan = retention.plan();
        assertThat(plan.cutOff()).isEqualTo(MARCH);
        assertThat(plan.lastDropped()).contains(f.feb28);
        assertThat(plan.partitions()).containsExactly(
                new Retention.Partition("changes_20250101", Instant.parse("2025-01-01T00:00:00Z"), Instant.parse("2025-02-01T00:00:00Z"), 5),
                new Retention.Partition("changes_20250201", Instant.parse("2025-02-01T00:00:00Z"), MARCH, 5));
        assertThat(plan.droppedChanges()).isEqualTo(10);
        assertThat(plan.baselineRows()).isEqualTo(3);
        assertThat(plan.tablesWithoutPrimaryKey()).containsExactly("public.logs");
        assertThat(plan.applied()).isFalse();
        assertThat(plan.describe()).contains(
                "Cut-off: 2025-03-01T00:00:00Z (changes committed before it are to be dropped)",
                "Last dropped position: " + f.feb28,
                "Drop changes_20250101 [2025-01-01T00:00:00Z, 2025-02-01T00:00:00Z): 5 changes",
                "Write 3 SNAPSHOT baseline rows committed at 2025-03-01T00:00:00Z",
                "No baseline for tables without a primary key (their older changes are dropped): public.logs");
        assertThat(count(url, "SELECT count(*) FROM annals.changes")).as("plan changes nothing").isEqualTo(13);

        List<AsOf> cuts = List.of(trail.asOf(MARCH), trail.asOf(f.mar1), trail.asOf(Instant.parse("2025-03-10T00:00:00Z")),
                trail.asOf(f.mar20), trail.asOf(f.apr2));
        List<String> before = new ArrayList<>();
        for (AsOf cut : cuts) {
            before.add(table(cut, "orders") + table(cut, "customers")
                    + cut.row("orders", Map.of("id", 3)) + cut.row("orders", Map.of("id", 2)));
        }
        List<Change> historyBefore = trail.history("orders", Map.of("id", 1)).list();

        Retention.Plan applied = retention.apply();
        assertThat(applied).isEqualTo(new Retention.Plan(plan.cutOff(), plan.lastDropped(), plan.partitions(),
                plan.baselineRows(), plan.tablesWithoutPrimaryKey(), true));
        assertThat(applied.describe()).contains("Dropped changes_20250201", "Wrote 3 SNAPSHOT baseline rows");

        // the baseline: right after the last dropped change, at the cut-off, in the first kept partition
        String lsn = f.feb28.toString().substring(0, 16);
        assertThat(strings(url, "SELECT position || ' ' || committed_at AT TIME ZONE 'UTC' || ' ' || operation || ' '"
                + " || \"table\" || ' ' || primary_key::text || ' ' || after::text || ' ' || transaction_id || ' '"
                + " || coalesce(before::text, 'no-before') || ' ' || tableoid::regclass::text || ' ' || context::text"
                + " FROM annals.changes WHERE context ? 'annals.retention' ORDER BY position"))
                .containsExactly(
                        lsn + ".00000001 2025-03-01 00:00:00 SNAPSHOT customers {\"id\": 2} {\"id\": 2, \"name\": \"Bo\"} 0 no-before"
                                + " annals.changes_20250301 {\"annals.retention\": {\"cut_off\": \"2025-03-01T00:00:00Z\","
                                + " \"dropped_through\": \"" + f.feb28 + "\"}}",
                        lsn + ".00000002 2025-03-01 00:00:00 SNAPSHOT orders {\"id\": 1} {\"id\": 1, \"status\": \"paid\"} 0 no-before"
                                + " annals.changes_20250301 {\"annals.retention\": {\"cut_off\": \"2025-03-01T00:00:00Z\","
                                + " \"dropped_through\": \"" + f.feb28 + "\"}}",
                        lsn + ".00000003 2025-03-01 00:00:00 SNAPSHOT orders {\"id\": 3} {\"id\": 3, \"status\": \"shipped\"} 0 no-before"
                                + " annals.changes_20250301 {\"annals.retention\": {\"cut_off\": \"2025-03-01T00:00:00Z\","
                                + " \"dropped_through\": \"" + f.feb28 + "\"}}");
        assertThat(count(url, "SELECT count(*) FROM annals.changes")).isEqualTo(13 - 10 + 3);
        assertThat(strings(url, "SELECT name FROM annals.change_partitions ORDER BY from_time"))
                .containsExactly("changes_20250301", "changes_20250401");

        // time travel from the cut-off on: the same as before
        List<AsOf> cutsAfter = List.of(trail.asOf(MARCH), trail.asOf(f.mar1), trail.asOf(Instant.parse("2025-03-10T00:00:00Z")),
                trail.asOf(f.mar20), trail.asOf(f.apr2));
        for (int i = 0; i < cuts.size(); i++) {
            AsOf cut = cutsAfter.get(i);
            assertThat(table(cut, "orders") + table(cut, "customers")
                    + cut.row("orders", Map.of("id", 3)) + cut.row("orders", Map.of("id", 2)))
                    .as("as of %s", cut).isEqualTo(before.get(i));
        }
        assertThat(before.get(0)).isEqualTo("[{\"id\":1,\"status\":\"refunded\"}, {\"id\":3,\"status\":\"shipped\"}]"
                + "[{\"id\":2,\"name\":\"Bo\"}]Optional[{\"id\":3,\"status\":\"shipped\"}]Optional.empty");
        // before the cut-off nothing is known any more, and the error says so
        assertThatThrownBy(() -> trail.asOf(Instant.parse("2025-02-15T00:00:00Z")).table("orders").close())
                .isInstanceOf(HistoryException.class).hasMessageContaining("nothing is known before that");
        assertThatThrownBy(() -> trail.asOf(f.feb28).row("orders", Map.of("id", 1)))
                .isInstanceOf(HistoryException.class).hasMessageContaining("begins at " + lsn + ".00000002");

        // the audit trail still works: the row's history now starts with its baseline
        List<Change> historyAfter = trail.history("orders", Map.of("id", 1)).list();
        assertThat(historyAfter).extracting(Change::operation).containsExactly(Operation.SNAPSHOT, Operation.UPDATE);
        assertThat(historyAfter.get(1).position()).isEqualTo(historyBefore.get(historyBefore.size() - 1).position());
        assertThat(trail.changes().operations(Operation.SNAPSHOT).list()).hasSize(3);

        // twice: nothing more to drop, no second baseline
        Retention.Plan again = retention.apply();
        assertThat(again.isEmpty()).isTrue();
        assertThat(again.baselineRows()).isZero();
        assertThat(again.describe()).contains("Nothing to drop");
        assertThat(count(url, "SELECT count(*) FROM annals.changes")).isEqualTo(6);
    }

    @Test
    void aChangeFeedThatHasNotReadTheChangesHoldsRetentionBackUntilItHasOrIsForgotten() {
        String url = newChangeLog("retention_feeds");
        new Fixture().log.into(url);
        ChangeLog log = ChangeLog.at(url);
        AtomicBoolean open = new AtomicBoolean(false);
        // A feed whose sink is down: it registers, and cannot get past its first batch.
        try (ChangeFeed stuck = ChangeFeed.from(log).named("stuck-sink").backoff(Duration.ofMillis(20), Duration.ofMillis(20))
                .start(changes -> {
                    if (!open.get()) throw new IllegalStateException("sink down");
                })) {
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> stuck.failure().isPresent());
            Retention retention = AuditTrail.of(url).retention().keepFrom(Instant.parse("2025-03-15T00:00:00Z"));
            assertThatThrownBy(retention::plan).isInstanceOf(HistoryException.class)
                    .hasMessageContaining("change feed 'stuck-sink'").hasMessageContaining("has not read them all yet")
                    .hasMessageContaining("Nothing was changed").hasMessageContaining("--force");
            assertThatThrownBy(retention::apply).isInstanceOf(HistoryException.class);
            assertThat(count(url, "SELECT count(*) FROM annals.changes")).isEqualTo(13);

            open.set(true);
            assertThat(stuck.awaitCaughtUp(Duration.ofSeconds(30))).isTrue();
        }
        // Caught up (the registry follows within its report interval): retention goes ahead.
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                assertThat(AuditTrail.of(url).retention().keepFrom(Instant.parse("2025-03-15T00:00:00Z")).plan()
                        .partitions()).hasSize(2));

        String other = newChangeLog("retention_feeds_forced");
        new Fixture().log.into(other);
        try (ChangeFeed never = ChangeFeed.from(ChangeLog.at(other)).named("never").start(changes -> {
            throw new IllegalStateException("down");
        })) {
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> never.failure().isPresent());
        }
        Retention forced = AuditTrail.of(other).retention().keepFrom(Instant.parse("2025-03-15T00:00:00Z")).ignoringFeeds();
        assertThat(forced.apply().partitions()).hasSize(2);
        assertThat(ChangeFeed.forget(ChangeLog.at(other), "never")).isTrue();
        assertThat(ChangeFeed.registered(ChangeLog.at(other))).isEmpty();
    }

    @Test
    void aFailureHalfwayLeavesTheLogAsItWas() {
        String url = newChangeLog("retention_atomic");
        new Fixture().log.into(url);
        // a view on the second partition makes its DROP fail after the baseline is written and the first is dropped
        TestPostgres.execute(url, "CREATE VIEW public.february AS SELECT * FROM annals.changes_20250201");
        Retention retention = AuditTrail.of(url).retention().keepFrom(Instant.parse("2025-03-15T00:00:00Z"));
        assertThatThrownBy(retention::apply).isInstanceOf(HistoryException.class)
                .hasMessageStartingWith("Could not apply the retention of the change log")
                .hasMessageContaining("other objects depend on it");
        assertThat(count(url, "SELECT count(*) FROM annals.changes")).isEqualTo(13);
        assertThat(count(url, "SELECT count(*) FROM annals.changes WHERE context ? 'annals.retention'")).isZero();
        assertThat(strings(url, "SELECT name FROM annals.change_partitions ORDER BY from_time"))
                .containsExactly("changes_20250101", "changes_20250201", "changes_20250301", "changes_20250401");

        TestPostgres.execute(url, "DROP VIEW public.february");
        assertThat(retention.apply().baselineRows()).isEqualTo(3);
    }

    @Test
    void captureWritingAndCreatingPartitionsMeanwhileLosesNothing() throws Exception {
        String url = newChangeLog("retention_concurrent");
        new Fixture().log.into(url);
        java.util.concurrent.CountDownLatch underWay = new java.util.concurrent.CountDownLatch(40);
        java.util.concurrent.CompletableFuture<Void> writer = java.util.concurrent.CompletableFuture.runAsync(() -> {
            try (ChangeLogWriter w = ChangeLog.at(url).openWriter("capture", c -> { })) {
                for (int i = 0; i < 400; i++) {
                    // six hours apart: the writer crosses into four new months, creating their partitions
                    Instant at = Instant.parse("2025-04-01T00:00:00Z").plus(Duration.ofHours(6L * i));
                    List<ChangeRow> rows = new ArrayList<>();
                    for (int j = 0; j < 5; j++) {
                        rows.add(new ChangeRow(Position.of(0x100000L + i, j), 9000 + i, at, "app", "public", "events",
                                Operation.CREATE, "{\"id\": " + (i * 5 + j) + "}", null, "{\"id\": " + (i * 5 + j) + "}", null, "{}"));
                    }
                    w.write(rows, 0);
                    underWay.countDown();
                }
            }
        });
        assertThat(underWay.await(60, java.util.concurrent.TimeUnit.SECONDS)).as("the writer is under way").isTrue();
        assertThat(writer).as("still writing when retention starts").isNotDone();
        Retention.Plan plan = AuditTrail.of(url).retention().keepFrom(Instant.parse("2025-03-15T00:00:00Z")).apply();
        writer.get(120, java.util.concurrent.TimeUnit.SECONDS);

        assertThat(plan.partitions()).extracting(Retention.Partition::name).containsExactly("changes_20250101", "changes_20250201");
        assertThat(plan.baselineRows()).isEqualTo(3);
        assertThat(count(url, "SELECT count(*) FROM annals.changes WHERE \"table\" = 'events'")).isEqualTo(2000);
        assertThat(count(url, "SELECT count(DISTINCT primary_key) FROM annals.changes WHERE \"table\" = 'events'")).isEqualTo(2000);
        assertThat(strings(url, "SELECT name FROM annals.change_partitions ORDER BY from_time")).containsExactly(
                "changes_20250301", "changes_20250401", "changes_20250501", "changes_20250601", "changes_20250701");
    }

    @Test
    void keepIsAnAgeRoundedDownToAPartitionBoundary() {
        String url = newChangeLog("retention_keep_age");
        Instant now = Instant.now();
        Changes log = new Changes();
        for (int day = 240; day >= 1; day -= 10) {
            log.tx(now.minus(Duration.ofDays(day))).write("orders", Operation.CREATE, day, "{\"id\": " + day + "}");
        }
        log.into(url);
        Retention.Plan plan = AuditTrail.of(url).retention().keep(Duration.ofDays(90)).apply();
        Instant expected = ZonedDateTime.ofInstant(now.minus(Duration.ofDays(90)), ZoneOffset.UTC)
                .withDayOfMonth(1).toLocalDate().atStartOfDay(ZoneOffset.UTC).toInstant();
        assertThat(plan.cutOff()).isEqualTo(expected);
        assertThat(plan.partitions()).isNotEmpty().allSatisfy(p -> assertThat(p.to()).isBeforeOrEqualTo(expected));
        assertThat(plan.baselineRows()).isEqualTo(plan.droppedChanges()); // only creates: every dropped row is alive
        assertThat(count(url, "SELECT count(*) FROM annals.changes WHERE committed_at < '" + expected + "'"
                + " OR (committed_at = '" + expected + "' AND operation <> 'SNAPSHOT')")).isZero();
        assertThat(count(url, "SELECT count(*) FROM annals.changes")).isEqualTo(24);
    }

    @Test
    void refusesWhenCaptureHasStoredNothingPastTheCutOff() {
        String url = newChangeLog("retention_refuse");
        new Fixture().log.into(url);
        Retention retention = AuditTrail.of(url).retention().keepFrom(Instant.parse("2025-06-01T00:00:00Z"));
        for (Runnable r : List.<Runnable>of(retention::plan, retention::apply)) {
            assertThatThrownBy(r::run).isInstanceOf(HistoryException.class)
                    .hasMessage("Refusing to drop changes before 2025-05-01T00:00:00Z: the change log holds nothing committed"
                            + " at or after it yet (its latest change was committed 2025-04-02T08:00:00Z), so capture may"
                            + " still have earlier changes in flight that the baseline would miss. Keep a longer age, or"
                            + " retry once capture has stored changes committed after 2025-05-01T00:00:00Z.");
        }
        assertThat(count(url, "SELECT count(*) FROM annals.changes")).isEqualTo(13);
        assertThat(count(url, "SELECT count(*) FROM annals.change_partitions")).isEqualTo(4);
    }

    @Test
    void nothingOlderThanTheCutOffMeansNothingToDo() {
        String url = newChangeLog("retention_nothing");
        new Fixture().log.into(url);
        Retention.Plan plan = AuditTrail.of(url).retention().keepFrom(Instant.parse("2025-01-20T00:00:00Z")).apply();
        assertThat(plan.isEmpty()).isTrue();
        assertThat(plan.cutOff()).isEqualTo(Instant.parse("2025-01-01T00:00:00Z"));
        assertThat(plan.applied()).isFalse();
        assertThat(count(url, "SELECT count(*) FROM annals.changes")).isEqualTo(13);
        Retention.Plan beforeAll = AuditTrail.of(url).retention().keepFrom(Instant.parse("2020-01-01T00:00:00Z")).plan();
        assertThat(beforeAll.isEmpty()).isTrue();
        assertThat(beforeAll.cutOff()).isEqualTo(Instant.parse("2020-01-01T00:00:00Z"));
    }

    @Test
    void badInputGetsClearErrors() {
        AuditTrail trail = AuditTrail.of(newChangeLog("retention_errors"));
        assertThatThrownBy(() -> trail.retention().keep(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("The age to keep must be positive, e.g. Duration.ofDays(90), not PT0S");
        assertThatThrownBy(() -> trail.retention().keep(Duration.ofDays(-3))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("must be positive");
        assertThatThrownBy(() -> trail.retention().plan()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("Say what to keep first");
        assertThatThrownBy(() -> trail.retention().keepFrom(null)).isInstanceOf(NullPointerException.class);
        AuditTrail none = AuditTrail.of(TestPostgres.newDatabase("retention_no_log"));
        assertThatThrownBy(() -> none.retention().keep(Duration.ofDays(1)).plan()).isInstanceOf(HistoryException.class)
                .hasMessageStartingWith("There is no change log (table annals.changes) in this database");
    }

    @Test
    void rowHistoryAndAsOfStillUseThePerPartitionIndexes() {
        String url = newChangeLog("retention_indexes");
        ChangeLog.at(url).preparePartitions(Instant.parse("2025-01-01T00:00:00Z"), Instant.parse("2025-03-31T00:00:00Z"));
        TestPostgres.execute(url,
                "INSERT INTO annals.changes (position, transaction_id, committed_at, database, \"schema\", \"table\","
                        + " operation, primary_key, before, after, changed_columns, context)"
                        + " SELECT upper(lpad(to_hex(g), 16, '0')) || '.00000000', g,"
                        + " timestamptz '2025-01-01' + g * interval '2 minutes', current_database(), 'public',"
                        + " (ARRAY['orders', 'customers', 'items'])[g % 3 + 1], 'UPDATE',"
                        + " jsonb_build_object('id', g % 1000), jsonb_build_object('id', g % 1000),"
                        + " jsonb_build_object('id', g % 1000, 'n', g), ARRAY['n'], '{}'::jsonb"
                        + " FROM generate_series(1, 60000) g",
                "ANALYZE annals.changes");
        AuditTrail trail = AuditTrail.of(url);
        Retention.Plan plan = trail.retention().keepFrom(Instant.parse("2025-02-10T00:00:00Z")).apply();
        assertThat(plan.partitions()).extracting(Retention.Partition::name).containsExactly("changes_20250101");
        assertThat(plan.baselineRows()).isEqualTo(3000);
        TestPostgres.execute(url, "ANALYZE annals.changes");

        String history = String.join("\n", explain(trail.history("orders", Map.of("id", 7)).descending()));
        assertThat(history).contains("Index Scan Backward using changes_row_history_idx_20250201",
                "Index Scan Backward using changes_row_history_idx_20250301", "Merge Append")
                .doesNotContain("Seq Scan").doesNotContainPattern("(?m)^\\s*(->\\s*)?Sort\\s+\\(");
        Position cut = trail.asOf(Instant.parse("2025-03-10T00:00:00Z")).position().orElseThrow();
        String row = String.join("\n", AsOfPlans.row(trail.asOf(cut), "orders", Map.of("id", 7)));
        assertThat(row).contains("Index Scan Backward using changes_row_history_idx_20250201").doesNotContain("Seq Scan");
        Optional<JsonNode> image = trail.asOf(cut).row("orders", Map.of("id", 7));
        assertThat(image).isPresent();
    }
}
