package io.annals.capture;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/** Capture that cannot start fails with a CaptureException whose message says how to fix it. */
@SuppressWarnings("try") // scopes and locks held for their side effect
class CaptureErrorsTest extends CaptureTestSupport {

    /** The machine's own PostgreSQL 15 service: wal_level = replica, trust auth. */
    private static final String LOCAL_PG15 = "jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres";

    @Test
    void urlThatIsNotAPostgresJdbcUrl() {
        assertThatThrownBy(() -> start("mysql://localhost:3306/app?user=root&password=hunter2"))
                .isInstanceOf(CaptureException.class)
                .hasMessageContaining("is not a PostgreSQL JDBC URL")
                .hasMessageContaining("jdbc:postgresql://host:5432/database")
                .hasMessageNotContaining("hunter2");
    }

    @Test
    void nothingListeningOnThePort() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        String url = "jdbc:postgresql://127.0.0.1:" + port + "/app?user=postgres&password=hunter2&connectTimeout=5";
        assertThatThrownBy(() -> start(url))
                .isInstanceOf(CaptureException.class)
                .hasMessageContaining("Cannot reach the source PostgreSQL")
                .hasMessageContaining("127.0.0.1:" + port)
                .hasMessageContaining("(connection refused): is the server running, and are the host and port right?")
                .hasMessageNotContaining("hunter2")
                // One sentence: not the driver's advice and then ours, nor a doubled full stop.
                .hasMessageNotContaining("..")
                .hasMessageNotContaining("postmaster")
                .satisfies(e -> assertThat(e.getMessage()).endsWith("?").doesNotContainPattern("[.?!]\\s"))
                .satisfies(e -> assertThat(((CaptureException) e).retryable()).as("retryable").isTrue());
    }

    @Test
    void databaseThatDoesNotExist() {
        String existing = newDatabase("cap_err_nodb");
        String url = existing.replace("/" + databaseName(existing) + "?", "/no_such_database_here?");
        assertThatThrownBy(() -> start(url))
                .isInstanceOf(CaptureException.class)
                .hasMessageContaining("database does not exist")
                .hasMessageContaining("no_such_database_here")
                .hasMessageContaining("Create it or fix the database name in the URL");
    }

    @Test
    void roleWithoutReplicationAttribute() {
        String url = newDatabase("cap_err_norepl");
        String role = "norepl_" + databaseName(url);
        sql(url, "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" + role + "') THEN"
                + " CREATE ROLE " + role + " LOGIN; END IF; END $$");
        try {
            String asRole = url.replace("user=postgres", "user=" + role);
            assertThat(scalar(asRole, "SELECT current_user")).isEqualTo(role);
            assertThatThrownBy(() -> start(asRole))
                    .isInstanceOf(CaptureException.class)
                    .hasMessageContaining("Role '" + role + "' may not use logical replication")
                    .hasMessageContaining("ALTER ROLE \"" + role + "\" REPLICATION");
            assertThat(scalar(url, "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()")).isEqualTo("0");
        } finally {
            try {
                sql(url, "DROP ROLE IF EXISTS " + role);
            } catch (RuntimeException ignored) {
                // Only a leftover role.
            }
        }
    }

    @Test
    void slotAlreadyInUseByAnotherWorker() {
        String url = newDatabase("cap_err_slot_busy");
        sql(url, "CREATE TABLE t (id int PRIMARY KEY)");
        try (CaptureWorker first = start(url)) {
            assertThatThrownBy(() -> {
                try (CaptureWorker second = start(url)) {
                    second.awaitCaughtUp(CATCH_UP);
                }
            }).isInstanceOf(CaptureException.class)
                    .hasMessageContaining("Replication slot '" + first.slotName() + "' is in use")
                    .hasMessageContaining("another capture worker is running")
                    .hasMessageContaining("--slot");
            // The first worker is unharmed.
            sql(url, "INSERT INTO t VALUES (1)");
            first.awaitCaughtUp(CATCH_UP);
            assertThat(first.isRunning()).isTrue();
            assertThat(changesOf(url, "t")).hasSize(1);
        }
    }

    @Test
    void slotInUseWhileTheFirstWorkerIsStillStarting() throws Exception {
        // Same as above with the explicit slot name given to both: the check must not depend on the default.
        String url = newDatabase("cap_err_slot_named");
        try (CaptureWorker first = start(options(url).slot("shared_slot_" + databaseName(url)))) {
            assertThatThrownBy(() -> start(options(url).slot("shared_slot_" + databaseName(url))).close())
                    .isInstanceOf(CaptureException.class)
                    .hasMessageContaining("is in use");
            // Another slot on the same database is fine.
            try (CaptureWorker other = start(options(url).slot("other_slot_" + databaseName(url)))) {
                other.awaitCaughtUp(CATCH_UP);
            }
            first.awaitCaughtUp(CATCH_UP);
        }
    }

    @Test
    void walLevelNotLogical() {
        boolean reachable;
        String why = null;
        try (Connection c = DriverManager.getConnection(LOCAL_PG15 + "&connectTimeout=3")) {
            reachable = true;
        } catch (SQLException e) {
            reachable = false;
            why = e.getMessage();
        }
        if (!reachable) {
            String message = "The machine's PostgreSQL 15 service on 127.0.0.1:5432 (user postgres, wal_level=replica)"
                    + " is needed for the wal_level error case but is not reachable: " + why;
            if ("1".equals(System.getenv("ANNALS_REQUIRE_SERVICES"))) {
                fail(message + ". ANNALS_REQUIRE_SERVICES=1 is set, so this test may not be skipped.");
            }
            Assumptions.assumeTrue(false, message);
        }
        String walLevel = scalar(LOCAL_PG15, "SHOW wal_level");
        Assumptions.assumeTrue(!"logical".equals(walLevel), "The local PostgreSQL already has wal_level=logical");
        String slot = "annals_wal_level_test";
        assertThatThrownBy(() -> start(options(LOCAL_PG15).slot(slot).publication("annals_wal_level_test")))
                .isInstanceOf(CaptureException.class)
                .hasMessageContaining("wal_level is '" + walLevel + "'")
                .hasMessageContaining("ALTER SYSTEM SET wal_level = logical")
                .hasMessageContaining("restart");
        // Nothing was created on that server, and its settings are unchanged.
        assertThat(scalar(LOCAL_PG15, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + slot + "'")).isEqualTo("0");
        assertThat(scalar(LOCAL_PG15, "SELECT count(*) FROM pg_publication WHERE pubname = 'annals_wal_level_test'")).isEqualTo("0");
        assertThat(scalar(LOCAL_PG15, "SHOW wal_level")).isEqualTo(walLevel);
    }

    @Test
    void awaitCaughtUpReportsAWorkerThatFailed() {
        String url = newDatabase("cap_err_failed");
        sql(url, "CREATE TABLE accounts (id int PRIMARY KEY, v int)");
        try (CaptureWorker worker = start(options(url).omitColumns(List.of("accounts.key")))) {
            // The policy was checked at start; a key column renamed later into the pattern fails the stream.
            sql(url, "ALTER TABLE accounts RENAME COLUMN id TO key", "INSERT INTO accounts VALUES (1, 1)");
            assertThatThrownBy(() -> worker.awaitCaughtUp(CATCH_UP))
                    .isInstanceOf(CaptureException.class)
                    .hasMessageStartingWith("Capture failed:");
            assertThat(worker.isRunning()).isFalse();
            assertThat(worker.failure()).isPresent();
        }
    }

    @Test
    void awaitCaughtUpTimesOutWithAClearMessage() throws Exception {
        String url = newDatabase("cap_err_timeout");
        try (CaptureWorker worker = start(url)) {
            // A transaction holding the stream up: the marker cannot be decoded before it ends.
            try (Connection blocker = TestPostgres.connect(url); Statement s = blocker.createStatement()) {
                blocker.setAutoCommit(false);
                s.execute("CREATE TABLE big AS SELECT g AS id FROM generate_series(1, 10) g");
                // Still open; but pgoutput only sends committed transactions, so the sync marker passes it.
                worker.awaitCaughtUp(CATCH_UP);
                blocker.rollback();
            }
            try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT count(*) FROM annals.changes")) {
                rs.next();
                assertThat(rs.getLong(1)).as("an open, then rolled back, transaction records nothing").isZero();
            }
            assertThatThrownBy(() -> worker.awaitCaughtUp(Duration.ZERO))
                    .isInstanceOf(CaptureException.class)
                    .hasMessageContaining("did not catch up")
                    .hasMessageContaining("within PT0S");
        }
    }
}
