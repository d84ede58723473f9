package io.annals.changelog.feed;

import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeLogWriter;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Change feeds over a real change log, written by the change log's own writer. */
class ChangeFeedTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    /** A database: its URL (with its user) and a data source for it. */
    record Db(String url, PGSimpleDataSource ds) {
    }

    /** A fresh, migrated change log. */
    static Db newLog(String prefix) {
        String url = TestPostgres.newDatabase(prefix);
        PGSimpleDataSource ds = dataSource(url);
        ChangeLog.at(ds).migrate();
        return new Db(url, ds);
    }

    static PGSimpleDataSource dataSource(String url) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(url);
        return ds;
    }


    /** Change {@code i} of a synthetic source transaction at {@code lsn}. */
    static ChangeRow change(long lsn, long ordinal, String table, Operation op, String context) {
        return new ChangeRow(Position.of(lsn, ordinal), lsn, Instant.now(), "app", "public", table, op,
                "{\"id\": " + lsn + "}", null, "{\"id\": " + lsn + ", \"o\": " + ordinal + "}", List.of("id"), context);
    }

    /** Writes {@code n} changes of table t in transactions of {@code perTx}, LSNs from {@code firstLsn}. */
    static List<Position> write(ChangeLogWriter writer, long firstLsn, int n, int perTx) {
        List<Position> out = new ArrayList<>();
        List<ChangeRow> batch = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long lsn = firstLsn + i / perTx;
            batch.add(change(lsn, i % perTx, "t", Operation.CREATE, "{}"));
            out.add(batch.get(batch.size() - 1).position());
            if (batch.size() == perTx || i == n - 1) {
                writer.write(batch, lsn + 1);
                batch.clear();
            }
        }
        return out;
    }

    @Test
    void deliversEveryChangeInOrderAtLeastOnceAndResumesAfterItsCheckpoint() {
        Db db = newLog("feed_basic");
        PGSimpleDataSource ds = db.ds();
        ChangeLog log = ChangeLog.at(ds);
        List<Position> seen = Collections.synchronizedList(new ArrayList<>());
        try (ChangeLogWriter writer = log.openWriter("capture", c -> { })) {
            List<Position> first = write(writer, 1_000, 2_500, 7);
            try (ChangeFeed feed = ChangeFeed.from(log).named("copy").batchSize(100)
                    .start(changes -> changes.forEach(c -> seen.add(c.position())))) {
                assertThat(feed.awaitCaughtUp(WAIT)).isTrue();
                assertThat(seen).containsExactlyElementsOf(first);
                assertThat(feed.position()).contains(first.get(first.size() - 1));
            }
            List<Position> second = write(writer, 5_000, 300, 10);
            seen.clear();
            try (ChangeFeed feed = ChangeFeed.from(log).named("copy").batchSize(100)
                    .start(changes -> changes.forEach(c -> seen.add(c.position())))) {
                assertThat(feed.awaitCaughtUp(WAIT)).isTrue();
                assertThat(seen).as("only what came after the checkpoint").containsExactlyElementsOf(second);
            }
        }
    }

    @Test
    void exactlyOnceIntoAnotherDatabaseCommitsOutputAndCheckpointTogether() throws SQLException {
        Db db = newLog("feed_eo_log");
        PGSimpleDataSource ds = db.ds();
        String outUrl = TestPostgres.newDatabase("feed_eo_out");
        PGSimpleDataSource out = dataSource(outUrl);
        TestPostgres.execute(outUrl, "CREATE TABLE copied (position text PRIMARY KEY, after jsonb)");
        ChangeLog log = ChangeLog.at(ds);
        AtomicInteger calls = new AtomicInteger();
        ChangeFeed.TransactionalHandler copy = (changes, tx) -> {
            try (PreparedStatement ps = tx.prepareStatement("INSERT INTO copied VALUES (?, ?::jsonb)")) {
                for (ChangeRow c : changes) {
                    ps.setString(1, c.position().toString());
                    ps.setString(2, c.after());
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            // Every third batch fails after writing: its rows must roll back with it and come again.
            if (calls.incrementAndGet() % 3 == 0) throw new IllegalStateException("injected failure");
        };
        try (ChangeLogWriter writer = log.openWriter("capture", c -> { })) {
            List<Position> written = write(writer, 10_000, 1_000, 5);
            try (ChangeFeed feed = ChangeFeed.from(log).named("eo").batchSize(64).backoff(Duration.ofMillis(1),
                    Duration.ofMillis(5)).startTransactional(out, copy)) {
                await().atMost(WAIT).until(() -> count(outUrl, "SELECT count(*) FROM copied") == written.size());
                assertThat(feed.awaitCaughtUp(WAIT)).isTrue();
            }
            assertThat(count(outUrl, "SELECT count(*) FROM annals.feed_checkpoints WHERE consumer = 'eo'")).isEqualTo(1);
            assertThat(count(db.url(), "SELECT count(*) FROM annals.feed_consumers WHERE consumer = 'eo'"
                    + " AND last_error IS NULL")).as("the registry in the log's database").isEqualTo(1);
        }
    }

    @Test
    void filtersByTableOperationAndContext() {
        Db db = newLog("feed_filters");
        PGSimpleDataSource ds = db.ds();
        ChangeLog log = ChangeLog.at(ds);
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        try (ChangeLogWriter writer = log.openWriter("capture", c -> { })) {
            writer.write(List.of(change(1, 0, "orders", Operation.CREATE, "{\"tenant\": \"a\"}"),
                    change(1, 1, "orders", Operation.DELETE, "{\"tenant\": \"a\"}"),
                    change(1, 2, "orders", Operation.CREATE, "{\"tenant\": \"b\"}"),
                    change(1, 3, "lines", Operation.CREATE, "{\"tenant\": \"a\"}")), 2);
            try (ChangeFeed feed = ChangeFeed.from(log).named("f").tables("public.orders").operations(Operation.CREATE)
                    .contextContains("{\"tenant\": \"a\"}").start(changes -> changes.forEach(c -> seen.add(
                            c.table() + " " + c.operation() + " " + c.position().ordinal())))) {
                assertThat(feed.awaitCaughtUp(WAIT)).isTrue();
            }
        }
        assertThat(seen).containsExactly("orders CREATE 0");
    }

    @Test
    void aNotificationWakesTheFeedLongBeforeItsPollInterval() {
        Db db = newLog("feed_notify");
        PGSimpleDataSource ds = db.ds();
        ChangeLog log = ChangeLog.at(ds);
        List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
        try (ChangeLogWriter writer = log.openWriter("capture", c -> { });
             ChangeFeed feed = ChangeFeed.from(log).named("fast").pollInterval(Duration.ofMinutes(1))
                     .start(changes -> changes.forEach(c -> latencies.add(
                             Duration.between(c.committedAt(), Instant.now()).toMillis())))) {
            assertThat(feed.awaitCaughtUp(WAIT)).isTrue();
            for (int i = 0; i < 5; i++) {
                writer.write(List.of(change(100 + i, 0, "t", Operation.CREATE, "{}")), 101 + i);
                int expected = i + 1;
                await().atMost(Duration.ofSeconds(5)).until(() -> latencies.size() == expected);
            }
        }
        assertThat(latencies).allSatisfy(ms -> assertThat(ms).isLessThan(5_000));
    }

    @Test
    void aFailingFeedRetriesWithoutHoldingAnotherBackAndSaysWhy() {
        Db db = newLog("feed_failing");
        ChangeLog log = ChangeLog.at(db.ds());
        java.util.concurrent.atomic.AtomicBoolean sinkDown = new java.util.concurrent.atomic.AtomicBoolean(true);
        List<Position> healthy = Collections.synchronizedList(new ArrayList<>());
        List<Position> late = Collections.synchronizedList(new ArrayList<>());
        try (ChangeLogWriter writer = log.openWriter("capture", c -> { })) {
            List<Position> written = write(writer, 1, 50, 5);
            try (ChangeFeed broken = ChangeFeed.from(log).named("broken").backoff(Duration.ofMillis(20), Duration.ofMillis(50))
                    .start(changes -> {
                        if (sinkDown.get()) throw new IllegalStateException("sink down");
                        changes.forEach(c -> late.add(c.position()));
                    });
                 ChangeFeed ok = ChangeFeed.from(log).named("ok").start(changes -> changes.forEach(c -> healthy.add(c.position())))) {
                assertThat(ok.awaitCaughtUp(WAIT)).isTrue();
                assertThat(healthy).containsExactlyElementsOf(written);
                await().atMost(WAIT).until(() -> broken.failure().isPresent());
                assertThat(broken.state()).isIn(ChangeFeed.State.RETRYING, ChangeFeed.State.STARTING, ChangeFeed.State.RUNNING);
                assertThat(broken.failure()).get().extracting(Throwable::getMessage).isEqualTo("sink down");
                await().atMost(WAIT).until(() -> count(db.url(), "SELECT count(*) FROM annals.feed_consumers"
                        + " WHERE consumer = 'broken' AND last_error LIKE '%sink down%'") == 1);

                sinkDown.set(false);
                assertThat(broken.awaitCaughtUp(WAIT)).as("it gets through once the sink is back").isTrue();
                assertThat(late).containsExactlyElementsOf(written);
                assertThat(broken.failure()).isEmpty();
                assertThat(broken.state()).isEqualTo(ChangeFeed.State.RUNNING);
                await().atMost(WAIT).until(() -> count(db.url(), "SELECT count(*) FROM annals.feed_consumers"
                        + " WHERE consumer = 'broken' AND last_error IS NULL") == 1);
            }
        }
    }

    @Test
    void aNewFeedStartsWithTheLatestRetentionBaselineAndARunningOneSkipsIt() {
        Db db = newLog("feed_baseline");
        PGSimpleDataSource ds = db.ds();
        ChangeLog log = ChangeLog.at(ds);
        List<String> old = Collections.synchronizedList(new ArrayList<>());
        try (ChangeLogWriter writer = log.openWriter("capture", c -> { })) {
            write(writer, 1, 3, 1);
            try (ChangeFeed feed = ChangeFeed.from(log).named("old").start(changes -> changes.forEach(c ->
                    old.add(c.operation() + " " + c.position())))) {
                assertThat(feed.awaitCaughtUp(WAIT)).isTrue();
                // What retention does, in short: the state at the cut-off as SNAPSHOT rows, then the old changes go.
                String retention = "{\"annals.retention\": {\"cut_off\": \"x\", \"dropped_through\": \"0000000000000002.00000000\"}}";
                writer.write(List.of(new ChangeRow(Position.of(2, 1), 0, Instant.now(), "app", "public", "t",
                        Operation.SNAPSHOT, "{\"id\": 1}", null, "{\"id\": 1}", null, retention)), 0);
                TestPostgres.execute(db.url(), "DELETE FROM annals.changes WHERE position <= '0000000000000002.00000000'");
                write(writer, 10, 1, 1);
                assertThat(feed.awaitCaughtUp(WAIT)).isTrue();
            }
        }
        assertThat(old).as("the running feed skips the baseline").containsExactly("CREATE 0000000000000001.00000000",
                "CREATE 0000000000000002.00000000", "CREATE 0000000000000003.00000000", "CREATE 000000000000000A.00000000");
        List<String> fresh = Collections.synchronizedList(new ArrayList<>());
        try (ChangeFeed feed = ChangeFeed.from(log).named("new").start(changes -> changes.forEach(c ->
                fresh.add(c.operation() + " " + c.position())))) {
            assertThat(feed.awaitCaughtUp(WAIT)).isTrue();
        }
        assertThat(fresh).as("baseline first, then what was kept").containsExactly("SNAPSHOT 0000000000000002.00000001",
                "CREATE 0000000000000003.00000000", "CREATE 000000000000000A.00000000");
    }

    @Test
    void aCountingFeedCountsEveryChangeOnceByTableAndKindAcrossFailuresAndFilters() {
        Db db = newLog("feed_counting");
        ChangeLog log = ChangeLog.at(db.ds());
        TestPostgres.execute(db.url(), "CREATE TABLE counted (tbl text, op text, n bigint)");
        java.util.Map<String, Long> expected = new java.util.TreeMap<>();
        Operation[] kinds = {Operation.CREATE, Operation.UPDATE, Operation.UPDATE, Operation.DELETE};
        Position lastWritten = null;
        try (ChangeLogWriter writer = log.openWriter("capture", c -> { })) {
            for (int tx = 0; tx < 300; tx++) {
                List<ChangeRow> batch = new ArrayList<>();
                for (int i = 0; i < 7; i++) {
                    String table = (tx + i) % 3 == 0 ? "lines" : "orders";
                    Operation op = kinds[(tx * 7 + i) % kinds.length];
                    batch.add(change(100 + tx, i, table, op, "{}"));
                    expected.merge(table + " " + op, 1L, Long::sum);
                }
                lastWritten = batch.get(batch.size() - 1).position();
                writer.write(batch, 101 + tx);
            }
        }
        AtomicInteger calls = new AtomicInteger();
        List<Position> lasts = Collections.synchronizedList(new ArrayList<>());
        ChangeFeed.CountingHandler tally = (tallies, last, tx) -> {
            assertThat(tallies).isNotEmpty();
            try (PreparedStatement ps = tx.prepareStatement("INSERT INTO counted VALUES (?, ?, ?)")) {
                for (ChangeFeed.Tally t : tallies) {
                    ps.setString(1, t.schema() + "." + t.table());
                    ps.setString(2, t.operation().name());
                    ps.setLong(3, t.changes());
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            // Every third batch fails after writing: its counts must roll back with it and come again.
            if (calls.incrementAndGet() % 3 == 0) throw new IllegalStateException("injected failure");
            lasts.add(last);
        };
        try (ChangeFeed feed = ChangeFeed.from(log).named("tally").batchSize(100)
                .backoff(Duration.ofMillis(1), Duration.ofMillis(5)).startCounting(db.ds(), tally)) {
            assertThat(feed.awaitCaughtUp(WAIT)).isTrue();
            assertThat(feed.position()).contains(lastWritten);
        }
        assertThat(lasts).as("one call per 100 ids, the last at the last change").hasSizeGreaterThanOrEqualTo(21)
                .last().isEqualTo(lastWritten);
        java.util.Map<String, Long> counted = new java.util.TreeMap<>();
        try (Connection c = TestPostgres.connect(db.url()); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT tbl, op, sum(n) FROM counted GROUP BY 1, 2")) {
            while (rs.next()) counted.put(rs.getString(1).substring("public.".length()) + " " + rs.getString(2), rs.getLong(3));
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        assertThat(counted).as("exactly once, though a third of the batches failed").isEqualTo(expected);

        List<String> filtered = Collections.synchronizedList(new ArrayList<>());
        try (ChangeFeed feed = ChangeFeed.from(log).named("deletes").tables("public.lines").operations(Operation.DELETE)
                .batchSize(1_000).startCounting(db.ds(), (tallies, last, tx) -> tallies.forEach(t ->
                        filtered.add(t.table() + " " + t.operation() + " " + t.changes())))) {
            assertThat(feed.awaitCaughtUp(WAIT)).isTrue();
        }
        long lineDeletes = expected.get("lines DELETE");
        assertThat(filtered).as("filters apply; 2,100 ids in three windows of 1,000")
                .allSatisfy(t -> assertThat(t).startsWith("lines DELETE "))
                .extracting(t -> Long.parseLong(t.substring("lines DELETE ".length())))
                .hasSizeBetween(1, 3).satisfies(n -> assertThat(n.stream().mapToLong(Long::longValue).sum()).isEqualTo(lineDeletes));
    }

    @Test
    void aCountingBatchReadsItsWindowByIdNeverTheWholeLog() throws SQLException {
        Db db = newLog("feed_counting_plan");
        TestPostgres.execute(db.url(),
                "SELECT annals.create_change_partitions('2026-11-01', '2026-12-02')",
                "INSERT INTO annals.changes (position, transaction_id, committed_at, database, \"schema\", \"table\","
                        + " operation, primary_key, after, context) SELECT upper(lpad(to_hex(g), 16, '0')) || '.00000000', g,"
                        + " timestamptz '2026-11-01' + g * interval '20 seconds', 'app', 'public', 't' || g % 5, 'CREATE',"
                        + " jsonb_build_object('id', g), jsonb_build_object('id', g), '{}' FROM generate_series(1, 100000) g",
                "ANALYZE annals.changes");
        FeedQuery query = new FeedQuery(new java.util.LinkedHashSet<>(), java.util.EnumSet.noneOf(Operation.class), null);
        try (Connection c = TestPostgres.connect(db.url())) {
            // Without the window read in id order under a LIMIT, the planner did not know the bound and
            // scanned the whole log for each batch over a 10M-change log (minutes per million changes);
            // on a log this small it happens to pick the index anyway, so the order is checked as well.
            String plan = String.join("\n", query.explainCount(c, 50_000, 10_000));
            assertThat(plan).contains("Index Scan using changes_pkey_20261101").doesNotContain("Seq Scan on changes_20261101")
                    .contains("Sort Key: c.id");
            FeedQuery.Batch batch = query.count(c, 50_000, 10_000);
            assertThat(batch.size()).isEqualTo(10_000);
            assertThat(batch.tallies()).hasSize(5).allSatisfy(t -> assertThat(t.changes()).isEqualTo(2_000));
            assertThat(batch.lastRowId()).isEqualTo(60_000);
            assertThat(batch.more()).isTrue();
        }
    }

    @Test
    void aNewCountingFeedCountsTheRetentionBaselineFirst() {
        Db db = newLog("feed_counting_baseline");
        ChangeLog log = ChangeLog.at(db.ds());
        try (ChangeLogWriter writer = log.openWriter("capture", c -> { })) {
            write(writer, 1, 3, 1);
            String retention = "{\"annals.retention\": {\"cut_off\": \"x\", \"dropped_through\": \"0000000000000002.00000000\"}}";
            writer.write(List.of(new ChangeRow(Position.of(2, 1), 0, Instant.now(), "app", "public", "t",
                    Operation.SNAPSHOT, "{\"id\": 1}", null, "{\"id\": 1}", null, retention),
                    new ChangeRow(Position.of(2, 2), 0, Instant.now(), "app", "public", "t",
                    Operation.SNAPSHOT, "{\"id\": 2}", null, "{\"id\": 2}", null, retention)), 0);
            TestPostgres.execute(db.url(), "DELETE FROM annals.changes WHERE position <= '0000000000000002.00000000'");
            write(writer, 10, 1, 1);
        }
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        try (ChangeFeed feed = ChangeFeed.from(log).named("new").startCounting(db.ds(), (tallies, last, tx) ->
                tallies.forEach(t -> seen.add(t.operation() + " " + t.changes() + " to " + last)))) {
            assertThat(feed.awaitCaughtUp(WAIT)).isTrue();
        }
        assertThat(seen).as("the baseline, then what was kept after it").containsExactly(
                "SNAPSHOT 2 to 0000000000000002.00000002",
                "CREATE 2 to 000000000000000A.00000000");
    }

    @Test
    void badSettingsGetAClearErrorBeforeAnythingStarts() {
        ChangeFeed.Builder b = ChangeFeed.from(ChangeLog.at(newLog("feed_bad_input").ds()));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.tables("public."))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Not a table name: 'public.'");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.named(" "))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs a name");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.batchSize(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("batchSize");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.contextContains("[1]"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("JSON object");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.start(changes -> { }))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("Name the feed first");
    }

    static long count(String url, String sql) {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    @Test
    void aHandlerThatStopsBeforeAChangeCommitsTheOnesBeforeItAndGetsTheRestAgain() throws SQLException {
        Db db = newLog("feed_stop_before");
        ChangeLog log = ChangeLog.at(db.ds());
        TestPostgres.execute(db.url(), "CREATE TABLE seen (position text PRIMARY KEY)");
        AtomicInteger failures = new AtomicInteger();
        try (ChangeLogWriter writer = log.openWriter("capture", c -> { })) {
            List<Position> written = write(writer, 5_000, 30, 30);
            try (ChangeFeed feed = ChangeFeed.from(log).named("stopper").backoff(Duration.ofMillis(10), Duration.ofMillis(50))
                    .startTransactional(db.ds(), (rows, tx) -> {
                        for (int i = 0; i < rows.size(); i++) {
                            // The 11th change fails twice: its ten predecessors must stay committed meanwhile.
                            if (rows.get(i).position().equals(written.get(10)) && failures.getAndIncrement() < 2) {
                                throw new ChangeFeed.StopBefore(i, new IllegalStateException("not yet"));
                            }
                            try (PreparedStatement ps = tx.prepareStatement("INSERT INTO seen VALUES (?)")) {
                                ps.setString(1, rows.get(i).position().toString());
                                ps.executeUpdate();
                            }
                        }
                    })) {
                assertThat(feed.awaitCaughtUp(WAIT)).isTrue();
                assertThat(failures.get()).isEqualTo(3);
            }
            assertThat(count(db.url(), "SELECT count(*) FROM seen")).as("each change once").isEqualTo(30);

            // A feed started after a mark gets exactly what came after it; its checkpoint can be handed over.
            ChangeFeed.Mark mark = ChangeFeed.mark(log);
            List<Position> later = write(writer, 6_000, 5, 5);
            List<Position> got = Collections.synchronizedList(new ArrayList<>());
            try (ChangeFeed feed = ChangeFeed.from(log).named("after-mark").startingAfter(mark)
                    .startTransactional(db.ds(), (rows, tx) -> rows.forEach(r -> got.add(r.position())))) {
                assertThat(feed.awaitCaughtUp(WAIT)).isTrue();
            }
            assertThat(got).containsExactlyElementsOf(later);
            try (Connection tx = db.ds().getConnection()) {
                tx.setAutoCommit(false);
                ChangeFeed.handOver(tx, "after-mark", "heir");
                tx.commit();
            }
            List<Position> heir = Collections.synchronizedList(new ArrayList<>());
            List<Position> more = write(writer, 7_000, 3, 3);
            try (ChangeFeed feed = ChangeFeed.from(log).named("heir")
                    .startTransactional(db.ds(), (rows, tx) -> rows.forEach(r -> heir.add(r.position())))) {
                assertThat(feed.awaitCaughtUp(WAIT)).isTrue();
            }
            assertThat(heir).as("the heir goes on where after-mark stopped").containsExactlyElementsOf(more);
        }
    }
}
