package io.annals.testkit;

import io.annals.embedded.EmbeddedPostgres;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One embedded PostgreSQL 18 per test JVM, shared by every test, with a fresh database per
 * caller so that slots, publications and change logs never leak between tests.
 *
 * <p>Starting a cluster costs seconds; creating a database costs milliseconds. Tests therefore
 * share the server and isolate by database. The cluster runs with {@code fsync=off}: a crash of
 * the whole machine is not what these tests exercise (killing the capture worker is).
 *
 * <pre>{@code
 * String url = TestPostgres.newDatabase("capture_it");
 * try (Connection c = DriverManager.getConnection(url)) { ... }
 * }</pre>
 */
public final class TestPostgres {

    private static final AtomicInteger counter = new AtomicInteger();
    private static volatile EmbeddedPostgres server;

    private TestPostgres() {
    }

    /** The shared server, started on first use and stopped when the JVM exits. */
    public static synchronized EmbeddedPostgres server() {
        if (server == null) {
            try {
                Path dir = dataDirectory("test-postgres");
                EmbeddedPostgres pg = EmbeddedPostgres.builder()
                        .dataDirectory(dir)
                        .setting("fsync", "off")
                        .setting("full_page_writes", "off")
                        .setting("max_replication_slots", "64")
                        .setting("max_wal_senders", "64")
                        .setting("logical_decoding_work_mem", "1MB")
                        .start();
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    pg.stop();
                    deleteQuietly(dir.getParent());
                }, "test-postgres-stop"));
                server = pg;
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        return server;
    }

    /**
     * A fresh folder for a cluster's data, under the system temp folder rather than the build's
     * target folder: as root the server runs as {@code nobody}, which must be able to reach it, and
     * a checkout may live under a private home folder.
     */
    public static Path dataDirectory(String prefix) throws java.io.IOException {
        Path base = Files.createTempDirectory(prefix + "-");
        Files.setPosixFilePermissions(base, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        return base.resolve("data");
    }

    /** Creates a new, empty database and returns its JDBC URL (superuser, trust auth). */
    public static String newDatabase(String prefix) {
        String name = (prefix + "_" + counter.incrementAndGet()).toLowerCase().replaceAll("[^a-z0-9_]", "_");
        server().createDatabase(name);
        return server().jdbcUrl(name);
    }

    /** Opens a connection to {@code url}. */
    public static Connection connect(String url) throws SQLException {
        return DriverManager.getConnection(url);
    }

    /** Runs each statement on {@code url} in autocommit mode. */
    public static void execute(String url, String... sql) {
        try (Connection c = connect(url); Statement s = c.createStatement()) {
            for (String q : sql) s.execute(q);
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /**
     * Runs {@code statements} in one transaction on {@code url}, commits it and returns its ids.
     *
     * <pre>{@code
     * long xid = TestPostgres.transaction(url, "UPDATE t SET v = 2 WHERE id = 1").xid();
     * assertThat(changes).extracting(Change::transactionId).containsOnly(xid);
     * }</pre>
     */
    public static Transaction transaction(String url, String... statements) {
        try (Connection c = connect(url)) {
            c.setAutoCommit(false);
            long xid8;
            try (Statement s = c.createStatement()) {
                for (String q : statements) s.execute(q);
                try (ResultSet rs = s.executeQuery("SELECT pg_current_xact_id()::text::bigint")) {
                    rs.next();
                    xid8 = rs.getLong(1);
                }
            }
            c.commit();
            return new Transaction(xid8);
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /**
     * The ids of a committed transaction. Logical decoding, and so the change log, carries only the
     * 32-bit {@link #xid()}; it equals {@link #xid8()} only while the cluster's epoch is 0, which is
     * why a test that compares with the change log must use {@code xid()}.
     *
     * <pre>{@code
     * TestPostgres.Transaction tx = TestPostgres.transaction(url, "INSERT INTO t VALUES (1)");
     * assertThat(TestPostgres.rows(url, "SELECT xmin FROM t")).containsExactly(Long.toString(tx.xid()));
     * }</pre>
     *
     * @param xid8 the full 64-bit id, {@code pg_current_xact_id()}: epoch and counter
     */
    public record Transaction(long xid8) {

        /** The low 32 bits of {@link #xid8()}: the {@code xid} PostgreSQL stores in rows and WAL. */
        public long xid() {
            return xid8 & 0xFFFF_FFFFL;
        }
    }

    /**
     * Each row of {@code sql} on {@code url} as one text, its columns separated by {@code " | "}
     * (SQL NULL as {@code null}).
     *
     * <pre>{@code
     * assertThat(TestPostgres.rows(url, "SELECT id, v FROM t ORDER BY id")).containsExactly("1 | a", "2 | null");
     * }</pre>
     */
    public static List<String> rows(String url, String sql) {
        try (Connection c = connect(url); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            List<String> out = new ArrayList<>();
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                StringBuilder row = new StringBuilder();
                for (int i = 1; i <= n; i++) row.append(i > 1 ? " | " : "").append(rs.getString(i));
                out.add(row.toString());
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage() + " in: " + sql, e);
        }
    }

    /**
     * Drops a database made by {@link #newDatabase} and the inactive replication slots in it, as
     * far as possible: for tests that make many (a leftover costs disk space only).
     *
     * <pre>{@code
     * String url = TestPostgres.newDatabase("big");
     * try { ... } finally { TestPostgres.dropDatabase(url); }
     * }</pre>
     */
    public static void dropDatabase(String url) {
        int slash = url.lastIndexOf('/');
        int query = url.indexOf('?', slash);
        String name = url.substring(slash + 1, query < 0 ? url.length() : query);
        try (Connection c = connect(url.replace("/" + name, "/postgres")); Statement s = c.createStatement()) {
            s.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '" + name
                    + "' AND NOT active");
            s.execute("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
        } catch (SQLException e) {
            // Best effort: a leftover database costs disk space only.
        }
    }

    /** Deletes a folder and everything in it, as far as possible (for a stopped cluster's data). */
    public static void deleteQuietly(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException | RuntimeException ignored) {
            // Best effort: target/ is cleaned by the next build anyway.
        }
    }
}
