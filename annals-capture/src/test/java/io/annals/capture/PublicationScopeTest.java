package io.annals.capture;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * On PostgreSQL 15+ the publication lists user schemas rather than ALL TABLES, so that the change
 * log's own inserts (when it lives in the source) are not streamed back; new schemas join it.
 */
class PublicationScopeTest {

    @Test
    void changeLogIsNotPublishedAndNewSchemasAre() throws Exception {
        String url = TestPostgres.newDatabase("pubscope");
        TestPostgres.execute(url, "CREATE SCHEMA sales", "CREATE TABLE sales.orders (id int PRIMARY KEY)",
                "CREATE TABLE public.notes (id int PRIMARY KEY)");
        try (CaptureWorker worker = CaptureWorker.start(CaptureOptions.builder(url).heartbeatInterval(Duration.ofMillis(300)).build())) {
            TestPostgres.execute(url,
                    "INSERT INTO sales.orders VALUES (1)",
                    "CREATE SCHEMA billing",
                    "CREATE TABLE billing.invoices (id int PRIMARY KEY, total numeric)",
                    "INSERT INTO billing.invoices VALUES (7, 10.5)");
            worker.awaitCaughtUp(Duration.ofSeconds(30));
        }
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement()) {
            ResultSet rs = s.executeQuery("SELECT string_agg(DISTINCT schemaname, ',' ORDER BY schemaname) FROM pg_publication_tables"
                    + " WHERE pubname = 'annals'");
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("billing,public,sales");
            rs = s.executeQuery("SELECT \"schema\" || '.' || \"table\" || ':' || (after->>'id') FROM annals.changes"
                    + " WHERE operation = 'CREATE' ORDER BY position");
            StringBuilder seen = new StringBuilder();
            while (rs.next()) seen.append(rs.getString(1)).append(' ');
            assertThat(seen.toString().trim()).isEqualTo("sales.orders:1 billing.invoices:7");
        }
    }
}
