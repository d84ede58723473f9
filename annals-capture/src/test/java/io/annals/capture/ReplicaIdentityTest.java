package io.annals.capture;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** A FOR ALL TABLES publication must never break the application's UPDATEs on tables without a key. */
class ReplicaIdentityTest {

    @Test
    void tablesCreatedWhileCapturingWithoutPrimaryKeyStayUpdatable() throws Exception {
        String url = TestPostgres.newDatabase("replident");
        TestPostgres.execute(url, "CREATE TABLE keyed (id int PRIMARY KEY)");
        try (CaptureWorker worker = CaptureWorker.start(CaptureOptions.builder(url).heartbeatInterval(Duration.ofMillis(300)).build())) {
            TestPostgres.execute(url,
                    "CREATE TABLE log_lines (at timestamptz, line text)",
                    "INSERT INTO log_lines VALUES ('2026-01-01T00:00:00Z', 'a'), ('2026-01-02T00:00:00Z', 'b')",
                    "UPDATE log_lines SET line = 'c' WHERE line = 'a'",
                    "DELETE FROM log_lines WHERE line = 'b'",
                    "CREATE TABLE was_keyed (id int PRIMARY KEY, v int)",
                    "ALTER TABLE was_keyed DROP CONSTRAINT was_keyed_pkey",
                    "INSERT INTO was_keyed VALUES (1, 1)",
                    "UPDATE was_keyed SET v = 2");
            worker.awaitCaughtUp(Duration.ofSeconds(30));
        }
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement()) {
            ResultSet rs = s.executeQuery("SELECT operation, before::text, after::text, primary_key FROM annals.changes"
                    + " WHERE \"table\" = 'log_lines' ORDER BY position");
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("CREATE");
            rs.next();
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("UPDATE");
            assertThat(rs.getString(2)).isEqualTo("{\"at\": \"2026-01-01T00:00:00+00:00\", \"line\": \"a\"}");
            assertThat(rs.getString(3)).isEqualTo("{\"at\": \"2026-01-01T00:00:00+00:00\", \"line\": \"c\"}");
            assertThat(rs.getString(4)).isNull();
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("DELETE");
            assertThat(rs.getString(2)).contains("\"line\": \"b\"");
            rs = s.executeQuery("SELECT before::text FROM annals.changes WHERE \"table\" = 'was_keyed' AND operation = 'UPDATE'");
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("{\"v\": 1, \"id\": 1}");
        }
    }
}
