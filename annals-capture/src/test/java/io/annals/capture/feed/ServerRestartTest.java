package io.annals.capture.feed;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.changelog.ChangeLog;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.Supervisor;
import io.annals.changelog.feed.ChangeFeed;
import io.annals.embedded.EmbeddedPostgres;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.postgresql.ds.PGSimpleDataSource;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A real server restart, with the library's resilience alone: supervised capture and an
 * exactly-once change feed both carry on by themselves, and every change made before, during the
 * outage's aftermath and after arrives exactly once.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ServerRestartTest {

    @Test
    void captureAndAFeedSurviveARestartOfTheServerLosingAndDuplicatingNothing() throws Exception {
        Path dir = TestPostgres.dataDirectory("restart-test");
        EmbeddedPostgres pg = EmbeddedPostgres.builder().dataDirectory(dir).setting("fsync", "off").start();
        int port = pg.port();
        try {
            pg.createDatabase("app");
            String url = pg.jdbcUrl("app");
            execute(url, "CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL)",
                    "CREATE TABLE copied (position text NOT NULL, after jsonb)");
            PGSimpleDataSource ds = new PGSimpleDataSource();
            ds.setURL(url);
            CaptureOptions options = CaptureOptions.builder(url).slot("restart").heartbeatInterval(Duration.ofMillis(200)).build();
            try (Supervisor<CaptureWorker> capture = CaptureWorker.supervised(options);
                 ChangeFeed feed = ChangeFeed.from(ChangeLog.at(ds)).named("copy").tables("public.orders")
                         .backoff(Duration.ofMillis(100), Duration.ofSeconds(1))
                         .startTransactional(ds, ServerRestartTest::copy)) {
                insert(url, 0, 100);
                await().atMost(Duration.ofSeconds(60)).until(() -> count(url, "SELECT count(*) FROM copied") == 100);

                pg.stop();
                pg = EmbeddedPostgres.builder().dataDirectory(dir).port(port).setting("fsync", "off").start();
                String again = pg.jdbcUrl("app");
                assertThat(again).isEqualTo(url);

                insert(url, 100, 200);
                await().atMost(Duration.ofSeconds(90)).until(() -> count(url, "SELECT count(*) FROM copied") >= 200);
                assertThat(capture.failure()).isEmpty();
                assertThat(capture.current()).isPresent();
                await().atMost(Duration.ofSeconds(30)).until(() -> feed.state() == ChangeFeed.State.RUNNING);
                Thread.sleep(300); // a duplicate would arrive now
            }
            assertThat(count(url, "SELECT count(*) FROM copied")).isEqualTo(200);
            assertThat(count(url, "SELECT count(DISTINCT position) FROM copied")).isEqualTo(200);
            assertThat(count(url, "SELECT count(*) FROM annals.changes WHERE \"table\" = 'orders'")).isEqualTo(200);
        } finally {
            pg.stop();
            TestPostgres.deleteQuietly(dir.getParent());
        }
    }

    private static void copy(List<ChangeRow> changes, Connection tx) throws SQLException {
        try (PreparedStatement ps = tx.prepareStatement("INSERT INTO copied VALUES (?, ?::jsonb)")) {
            for (ChangeRow c : changes) {
                ps.setString(1, c.position().toString());
                ps.setString(2, c.after());
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    private static void insert(String url, int from, int to) throws SQLException {
        try (Connection c = TestPostgres.connect(url); PreparedStatement ps = c.prepareStatement("INSERT INTO orders VALUES (?, 'new')")) {
            for (int i = from; i < to; i++) {
                ps.setInt(1, i);
                ps.executeUpdate();
            }
        }
    }

    private static void execute(String url, String... sql) throws SQLException {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement()) {
            for (String q : sql) s.execute(q);
        }
    }

    private static long count(String url, String sql) {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            return -1; // the server is restarting
        }
    }
}
