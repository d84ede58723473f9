package io.annals.capture;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Large transactions that PostgreSQL streams before they commit (the test server runs with
 * logical_decoding_work_mem = 1MB, so a few thousand rows are enough).
 */
class StreamedTransactionsTest {

    @Test
    void streamedTransactionsAreStoredOnCommitAndDroppedOnRollback() throws Exception {
        String url = TestPostgres.newDatabase("streamed");
        TestPostgres.execute(url, "CREATE TABLE big (id int PRIMARY KEY, payload text)");
        CaptureOptions options = CaptureOptions.builder(url).heartbeatInterval(Duration.ofMillis(500)).build();
        try (CaptureWorker worker = CaptureWorker.start(options);
             Connection a = TestPostgres.connect(url); Connection b = TestPostgres.connect(url)) {
            a.setAutoCommit(false);
            try (Statement s = a.createStatement(); Statement sb = b.createStatement()) {
                s.execute("SELECT pg_logical_emit_message(true, 'annals', '{\"job\":\"import\"}')");
                s.execute("INSERT INTO big SELECT g, repeat('x', 200) || g FROM generate_series(1, 20000) g");
                // Another transaction commits while the big one is open: it must not wait for it.
                sb.execute("INSERT INTO big VALUES (-1, 'small')");
                s.execute("SAVEPOINT sp");
                s.execute("INSERT INTO big SELECT g, 'rolled back' FROM generate_series(20001, 30000) g");
                s.execute("ROLLBACK TO SAVEPOINT sp");
                s.execute("UPDATE big SET payload = 'updated' WHERE id BETWEEN 1 AND 5000");
                a.commit();
                // A streamed transaction that rolls back entirely leaves nothing.
                s.execute("INSERT INTO big SELECT g, repeat('y', 200) FROM generate_series(40001, 60000) g");
                a.rollback();
            }
            worker.awaitCaughtUp(Duration.ofSeconds(60));
        }
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement()) {
            ResultSet rs = s.executeQuery("SELECT operation, count(*), count(DISTINCT position), min(context::text), max(context::text)"
                    + " FROM annals.changes GROUP BY operation ORDER BY operation");
            List<String> rows = new ArrayList<>();
            while (rs.next()) {
                rows.add(rs.getString(1) + " " + rs.getLong(2) + " " + rs.getLong(3));
            }
            assertThat(rows).containsExactly("CREATE 20001 20001", "UPDATE 5000 5000");
            rs = s.executeQuery("SELECT count(*) FROM annals.changes WHERE context @> '{\"job\":\"import\"}'");
            rs.next();
            assertThat(rs.getLong(1)).isEqualTo(25000);
            rs = s.executeQuery("SELECT count(*) FROM annals.changes WHERE (primary_key->>'id')::int > 20000");
            rs.next();
            assertThat(rs.getLong(1)).as("rolled-back subtransaction and transaction").isZero();
            rs = s.executeQuery("SELECT count(*) FROM annals.streamed_changes");
            rs.next();
            assertThat(rs.getLong(1)).as("staging is emptied").isZero();
            // Positions follow commit order: the small transaction committed first.
            rs = s.executeQuery("SELECT primary_key->>'id' FROM annals.changes ORDER BY position LIMIT 1");
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("-1");
            // The stored after images match the table.
            rs = s.executeQuery("SELECT count(*) FROM big t JOIN LATERAL (SELECT after FROM annals.changes c"
                    + " WHERE c.\"schema\" = 'public' AND c.\"table\" = 'big' AND c.primary_key = jsonb_build_object('id', t.id)"
                    + " ORDER BY position DESC LIMIT 1) l ON true"
                    + " WHERE l.after = to_jsonb(t)");
            rs.next();
            assertThat(rs.getLong(1)).isEqualTo(20001);
        }
    }
}
