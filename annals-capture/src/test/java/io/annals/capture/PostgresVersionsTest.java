package io.annals.capture;

import io.annals.context.AnnalsContext;
import io.annals.context.ContextDataSource;
import io.annals.embedded.EmbeddedPostgres;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.postgresql.ds.PGSimpleDataSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The same capture workload on every PostgreSQL major version with binaries at hand: 14 to 17
 * from the jars the build copies to target/pg-binaries, 18 from the classpath. Each speaks a
 * different newest pgoutput protocol (2, 3, 4, 4, 4), and all of them stream large transactions.
 */
class PostgresVersionsTest {

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {14, 15, 16, 17, 18})
    @SuppressWarnings("try")
    void capturesTheSameWorkloadOnEveryVersion(int major) throws Exception {
        EmbeddedPostgres pg;
        Path dir = null;
        if (major == 18) {
            pg = TestPostgres.server();
        } else {
            Path jar = Path.of("target", "pg-binaries", "postgres-" + major + ".jar");
            Assumptions.assumeTrue(Files.exists(jar), "no PostgreSQL " + major + " binaries at " + jar);
            dir = TestPostgres.dataDirectory("pg" + major);
            pg = EmbeddedPostgres.builder().dataDirectory(dir).binariesJar(jar)
                    .setting("fsync", "off").setting("logical_decoding_work_mem", "64kB").start();
        }
        try {
            String db = "versions_" + major;
            pg.createDatabase(db);
            String url = pg.jdbcUrl(db);
            TestPostgres.execute(url,
                    "CREATE TABLE item (id int PRIMARY KEY, label text, tags text[], price numeric)",
                    "INSERT INTO item VALUES (0, 'before capture', '{a}', 1.5)");
            PGSimpleDataSource plain = new PGSimpleDataSource();
            plain.setURL(url);
            ContextDataSource app = ContextDataSource.wrap(plain);
            try (CaptureWorker worker = CaptureWorker.start(CaptureOptions.builder(url).heartbeatInterval(Duration.ofMillis(300)).build())) {
                try (var scope = AnnalsContext.with(Map.of("user_id", major));
                     Connection c = app.getConnection(); Statement s = c.createStatement()) {
                    s.executeUpdate("INSERT INTO item SELECT g, 'item ' || g, ARRAY['x', g::text], g * 0.1 FROM generate_series(1, 3000) g");
                    s.executeUpdate("UPDATE item SET price = price * 2 WHERE id BETWEEN 1 AND 10");
                    s.executeUpdate("DELETE FROM item WHERE id = 3000");
                }
                try (Connection c = plain.getConnection(); Statement s = c.createStatement()) {
                    s.execute("TRUNCATE item");
                }
                worker.awaitCaughtUp(Duration.ofSeconds(60));
            }
            try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
                ResultSet rs = s.executeQuery("SELECT string_agg(operation || ':' || n, ',' ORDER BY operation) FROM"
                        + " (SELECT operation, count(*) n FROM annals.changes GROUP BY operation) x");
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("CREATE:3000,DELETE:1,SNAPSHOT:1,TRUNCATE:1,UPDATE:10");
                rs = s.executeQuery("SELECT count(*) FROM annals.changes WHERE operation IN ('CREATE', 'UPDATE', 'DELETE')"
                        + " AND context = jsonb_build_object('user_id', " + major + ")");
                rs.next();
                assertThat(rs.getLong(1)).isEqualTo(3011);
                rs = s.executeQuery("SELECT after FROM annals.changes WHERE operation = 'UPDATE' AND primary_key = '{\"id\": 7}'");
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("{\"id\": 7, \"tags\": [\"x\", \"7\"], \"label\": \"item 7\", \"price\": 1.4}");
                rs = s.executeQuery("SELECT count(DISTINCT position) = count(*) FROM annals.changes");
                rs.next();
                assertThat(rs.getBoolean(1)).isTrue();
            }
        } finally {
            if (major != 18) {
                pg.close();
                TestPostgres.deleteQuietly(dir.getParent());
            }
        }
    }
}
