package io.annals.changelog.feed;

import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeLogException;
import io.annals.changelog.ChangeLogWriter;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.changelog.StagedChange;
import io.annals.testkit.TestPostgres;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.constraints.IntRange;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The feed never skips a change, whatever way it enters the log and however appends interleave:
 * three writers append at once (ordinary batches, streamed transactions moved in when they commit,
 * batches that fail and roll back, leaving holes in the ids) while a retention-like writer appends
 * baselines, and feeds with small random batches read all along. Afterwards each feed has
 * delivered every change except the baselines, each once, in the log's id order, and each
 * writer's changes in its own position order.
 *
 * <p>It fails without {@link ChangeLog#lockAppends}: two appends then commit out of id order and a
 * feed that read the later one first moves past the earlier one.
 */
class ChangeFeedGapSafetyPropertyTest {

    private static final AtomicInteger TRIES = new AtomicInteger();

    @Property(tries = 4, shrinking = ShrinkingMode.OFF)
    void feedsDeliverEveryChangeOnceInOrderUnderConcurrentAppends(@ForAll long seed,
                                                                  @ForAll @IntRange(min = 1, max = 20) int feedBatch)
            throws Exception {
        ChangeFeedTest.Db db = ChangeFeedTest.newLog("feed_gaps_" + TRIES.incrementAndGet());
        ChangeLog log = ChangeLog.at(db.ds());
        List<List<ChangeRow>> delivered = new ArrayList<>();
        List<ChangeFeed> feeds = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            for (int f = 0; f < 2; f++) {
                List<ChangeRow> seen = Collections.synchronizedList(new ArrayList<>());
                delivered.add(seen);
                feeds.add(ChangeFeed.from(log).named("feed-" + f).batchSize(f == 0 ? feedBatch : 1 + feedBatch * 7)
                        .pollInterval(Duration.ofMillis(5)).start(seen::addAll));
            }
            // The feeds exist before anything is appended: a feed created later would rightly start
            // with the latest baseline, which is not what this test is about.
            for (ChangeFeed feed : feeds) {
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> feed.state() == ChangeFeed.State.RUNNING);
            }
            List<Future<?>> writers = new ArrayList<>();
            for (int w = 0; w < 3; w++) {
                long writer = w + 1;
                Random random = new Random(seed * 31 + w);
                writers.add(pool.submit(() -> append(log, writer, random)));
            }
            Random random = new Random(seed);
            writers.add(pool.submit(() -> baselines(log, random)));
            for (Future<?> f : writers) f.get();
            for (ChangeFeed feed : feeds) assertThat(feed.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
        } finally {
            feeds.forEach(ChangeFeed::close);
            pool.shutdownNow();
        }

        List<String> stored = column(db.url(), "SELECT position || ' ' || \"table\" FROM annals.changes"
                + " WHERE NOT jsonb_exists(context, 'annals.retention') ORDER BY id");
        assertThat(stored).hasSizeGreaterThan(100);
        for (List<ChangeRow> seen : delivered) {
            List<String> got = seen.stream().map(c -> c.position() + " " + c.table()).toList();
            assertThat(got).as("every change once, in id order").isEqualTo(stored);
            Map<String, Position> lastOfWriter = new HashMap<>();
            for (ChangeRow c : seen) {
                Position previous = lastOfWriter.put(c.table(), c.position());
                assertThat(previous == null || previous.compareTo(c.position()) < 0)
                        .as("%s after %s", c.position(), previous).isTrue();
            }
        }
    }

    /** One writer's appends, in its own LSN range (writer << 40): batches, streamed commits, failures. */
    private static void append(ChangeLog log, long writer, Random random) {
        String table = "w" + writer;
        long lsn = writer << 40;
        try (ChangeLogWriter w = log.openWriter(table, c -> { })) {
            for (int round = 0; round < 40; round++) {
                int kind = random.nextInt(10);
                int n = 1 + random.nextInt(30);
                lsn += 1 + random.nextInt(3);
                Instant at = Instant.now(); // one commit time per source transaction, as capture stores it
                if (kind < 6) {
                    List<ChangeRow> rows = new ArrayList<>();
                    for (int i = 0; i < n; i++) rows.add(row(lsn, i, table, lsn, at));
                    w.write(rows, lsn + 1);
                } else if (kind < 9) {
                    // A streamed transaction: staged as it arrives, moved into the log when it commits.
                    long xid = 1_000_000L * writer + round;
                    List<StagedChange> staged = new ArrayList<>();
                    for (int i = 0; i < n; i++) staged.add(new StagedChange(xid, row(0, i, table, xid, at)));
                    w.stage(staged);
                    w.commit();
                    w.commitStaged(xid, lsn, at, "app", lsn + 1, null);
                } else {
                    // A batch that fails after its rows took ids (a position twice): a hole.
                    List<ChangeRow> rows = new ArrayList<>();
                    for (int i = 0; i < n; i++) rows.add(row(lsn, i, table, lsn, at));
                    rows.add(row(lsn, 0, table, lsn, at));
                    try {
                        w.write(rows, 0);
                    } catch (ChangeLogException expected) {
                        // rolled back
                    }
                }
                if (random.nextInt(4) == 0) Thread.sleep(random.nextInt(3));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Retention-like baselines: SNAPSHOT rows that restate the past, which running feeds skip. */
    private static void baselines(ChangeLog log, Random random) {
        try (ChangeLogWriter w = log.openWriter("retention", c -> { })) {
            for (int round = 0; round < 5; round++) {
                Thread.sleep(random.nextInt(20));
                String context = "{\"annals.retention\": {\"dropped_through\": \"" + Position.of(round, 0) + "\"}}";
                List<ChangeRow> rows = new ArrayList<>();
                for (int i = 0; i < 10; i++) {
                    rows.add(new ChangeRow(Position.of(round, i + 1), 0, Instant.now(), "app", "public", "baseline",
                            Operation.SNAPSHOT, "{\"id\": " + i + "}", null, "{\"id\": " + i + "}", null, context));
                }
                w.write(rows, 0);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static ChangeRow row(long lsn, long ordinal, String table, long xid, Instant at) {
        return new ChangeRow(Position.of(lsn, ordinal), xid, at, "app", "public", table, Operation.CREATE,
                "{\"id\": " + ordinal + "}", null, "{\"id\": " + ordinal + "}", List.of("id"), "{}");
    }

    private static List<String> column(String url, String sql) {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            List<String> out = new ArrayList<>();
            while (rs.next()) out.add(rs.getString(1));
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }
}
