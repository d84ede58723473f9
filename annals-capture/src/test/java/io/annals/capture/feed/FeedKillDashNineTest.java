package io.annals.capture.feed;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The feed example in a child JVM, sent SIGKILL at random moments while the source keeps writing
 * and capture keeps storing (into a change log in a database of its own, so the feed reads a log
 * that is not its source's, and writes to a third database). After a last run catches up, every
 * change of {@code orders} in the log has been copied exactly once, and nothing else.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class FeedKillDashNineTest {

    @Test
    void killedAtRandomMomentsUnderLoadTheCopyEndsWithEveryChangeExactlyOnce() throws Exception {
        long seed = Long.getLong("annals.crash.seed", System.nanoTime());
        Random random = new Random(seed);
        String source = TestPostgres.newDatabase("feed_kill_source");
        String logDb = TestPostgres.newDatabase("feed_kill_log");
        String output = TestPostgres.newDatabase("feed_kill_out");
        TestPostgres.execute(source, "CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, amount numeric(10,2))",
                "CREATE TABLE other (id int PRIMARY KEY)");
        // No unique key: a change copied twice must show as two rows.
        TestPostgres.execute(output, "CREATE TABLE order_changes (position text NOT NULL, operation text NOT NULL,"
                + " primary_key jsonb, after jsonb)");
        CaptureOptions options = CaptureOptions.builder(source).target(logDb).slot("feed_kill")
                .heartbeatInterval(Duration.ofMillis(200)).build();
        try (CaptureWorker worker = CaptureWorker.start(options)) {
            AtomicBoolean writing = new AtomicBoolean(true);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread load = Thread.ofPlatform().name("feed-kill-load").start(() -> {
                Random r = new Random(seed + 1);
                try (Connection c = TestPostgres.connect(source); Statement s = c.createStatement()) {
                    for (int i = 0; writing.get(); i++) {
                        int id = r.nextInt(300);
                        s.execute("INSERT INTO orders VALUES (" + id + ", 'new', " + r.nextInt(10_000) / 100.0 + ")"
                                + " ON CONFLICT (id) DO UPDATE SET status = 'seen " + i + "', amount = orders.amount + 1");
                        if (r.nextInt(5) == 0) s.execute("DELETE FROM orders WHERE id = " + r.nextInt(300));
                        if (r.nextInt(3) == 0) s.execute("INSERT INTO other VALUES (" + i + ")");
                        Thread.sleep(r.nextInt(3));
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            int killedMidway = 0;
            for (int kill = 0; kill < 4; kill++) {
                Process child = start(logDb, output);
                Thread.sleep(random.nextInt(1_500, 3_000));
                child.destroyForcibly(); // SIGKILL: no shutdown hook, no rollback from the client
                assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
                if (count(output, "SELECT count(*) FROM order_changes") > 0) killedMidway++;
            }
            writing.set(false);
            load.join();
            assertThat(failure.get()).as("the load").isNull();
            worker.awaitCaughtUp(Duration.ofSeconds(60));

            long expected = count(logDb, "SELECT count(*) FROM annals.changes WHERE \"table\" = 'orders'");
            Process finisher = start(logDb, output);
            try {
                long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
                while (count(output, "SELECT count(*) FROM order_changes") < expected) {
                    assertThat(System.nanoTime()).as("the restarted feed catches up").isLessThan(deadline);
                    Thread.sleep(100);
                }
                Thread.sleep(300); // a duplicate would arrive now
            } finally {
                finisher.destroyForcibly();
                finisher.waitFor(30, TimeUnit.SECONDS);
            }
            assertThat(killedMidway).as("kills that landed after some work was done (seed %s)", seed).isPositive();
            assertThat(expected).isGreaterThan(500);
            assertThat(count(output, "SELECT count(*) FROM order_changes")).as("rows copied (seed %s)", seed).isEqualTo(expected);
            assertThat(count(output, "SELECT count(DISTINCT position) FROM order_changes")).isEqualTo(expected);
            List<String> copied = column(output, "SELECT position || operation || coalesce(after::text, '') FROM order_changes ORDER BY 1");
            List<String> logged = column(logDb, "SELECT position || operation || coalesce(after::text, '') FROM annals.changes"
                    + " WHERE \"table\" = 'orders' ORDER BY 1");
            assertThat(copied).as("the copy is the log's changes of orders").isEqualTo(logged);
        }
    }

    private static Process start(String logDb, String output) throws Exception {
        Path log = Path.of("target", "kill-tests");
        Files.createDirectories(log);
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), CopyOrderChanges.class.getName(), logDb, output));
        return new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.resolve("killed-feed.log").toFile())).start();
    }

    private static long count(String url, String sql) throws SQLException {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static List<String> column(String url, String sql) throws SQLException {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            List<String> out = new ArrayList<>();
            while (rs.next()) out.add(rs.getString(1));
            return out;
        }
    }
}
