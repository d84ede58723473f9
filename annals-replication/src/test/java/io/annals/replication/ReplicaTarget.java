package io.annals.replication;

import io.annals.testkit.Services;
import io.annals.testkit.TestPostgres;

import javax.sql.DataSource;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * A replica database for one test: a fresh database on the embedded PostgreSQL, or unique tables
 * in the machine's MariaDB {@code test} database (dropped on close).
 */
final class ReplicaTarget implements AutoCloseable {

    final boolean postgres;
    final String url;
    final String suffix = UUID.randomUUID().toString().substring(0, 8);
    private final List<String> tables = new ArrayList<>();

    private ReplicaTarget(boolean postgres, String url) {
        this.postgres = postgres;
        this.url = url;
    }

    static ReplicaTarget of(String kind) {
        if (kind.startsWith("postgres")) return new ReplicaTarget(true, TestPostgres.newDatabase("replica"));
        Services.requireMariaDb();
        return new ReplicaTarget(false, Services.mariaDbUrl());
    }

    DataSource dataSource() {
        return JdbcDataSource.of(url);
    }

    /** A table name unique to this test. */
    String table(String base) {
        String t = base + "_" + suffix;
        tables.add(t);
        return t;
    }

    /** Drops {@code table} (made by the test under a name from {@link #table}) on close as well. */
    void dropsAtEnd(String table) {
        tables.add(table);
    }

    /** A timestamp column type that holds microseconds. */
    String timestamp() {
        return postgres ? "timestamptz" : "datetime(6)";
    }

    void execute(String... sql) {
        TestPostgres.execute(url, sql); // DriverManager: MariaDB's URL works as well
    }

    List<String> rows(String sql) {
        return TestPostgres.rows(url, sql);
    }

    @Override
    public void close() {
        if (postgres) return; // the database is left to the shared server, which goes with the JVM
        for (String t : tables) execute("DROP TABLE IF EXISTS " + t);
    }
}
