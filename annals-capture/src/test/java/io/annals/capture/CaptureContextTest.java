package io.annals.capture;

import io.annals.context.AnnalsContext;
import io.annals.context.ContextDataSource;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.postgresql.ds.PGSimpleDataSource;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Application context, emitted as logical decoding messages, stitched to the rows it describes. */
@SuppressWarnings("try") // scopes and locks held for their side effect
class CaptureContextTest extends CaptureTestSupport {

    private static ContextDataSource app(String url) {
        PGSimpleDataSource plain = new PGSimpleDataSource();
        plain.setURL(url);
        return ContextDataSource.wrap(plain);
    }

    private static String table(String url) {
        sql(url, "CREATE TABLE todo (id int PRIMARY KEY, title text, done boolean NOT NULL DEFAULT false)");
        return url;
    }

    @Test
    void autocommitStatementsCarryTheBoundContext() throws Exception {
        String url = table(newDatabase("cap_ctx_auto"));
        ContextDataSource app = app(url);
        try (CaptureWorker worker = start(url)) {
            try (var scope = AnnalsContext.with(Map.of("user_id", 42, "endpoint", "POST /todo"));
                 Connection c = app.getConnection();
                 PreparedStatement ps = c.prepareStatement("INSERT INTO todo (id, title) VALUES (?, ?)")) {
                ps.setInt(1, 1);
                ps.setString(2, "write tests");
                ps.executeUpdate();
                ps.setInt(1, 2);
                ps.setString(2, "run them");
                ps.executeUpdate();
            }
            try (var scope = AnnalsContext.with(Map.of("user_id", 7));
                 Connection c = app.getConnection(); Statement s = c.createStatement()) {
                s.executeUpdate("UPDATE todo SET done = true"); // two rows, one statement
            }
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = changesOf(url, "todo");
            assertThat(changes).extracting(Change::operation).containsExactly("CREATE", "CREATE", "UPDATE", "UPDATE");
            assertThat(changes.get(0).context()).isEqualTo(object("endpoint", "POST /todo", "user_id", 42));
            assertThat(changes.get(1).context()).isEqualTo(object("endpoint", "POST /todo", "user_id", 42));
            assertThat(changes.get(0).transactionId()).isNotEqualTo(changes.get(1).transactionId());
            assertThat(changes.get(2).context()).isEqualTo(object("user_id", 7));
            assertThat(changes.get(3).context()).isEqualTo(object("user_id", 7));
        }
    }

    @Test
    void statementsOfOneTransactionCarryTheirOwnContexts() throws Exception {
        String url = table(newDatabase("cap_ctx_tx"));
        sql(url, "INSERT INTO todo (id, title) VALUES (1, 'a'), (2, 'b'), (3, 'c')");
        ContextDataSource app = app(url);
        try (CaptureWorker worker = start(url)) {
            try (Connection c = app.getConnection()) {
                c.setAutoCommit(false);
                try (var scope = AnnalsContext.with(Map.of("step", "one", "user_id", 1)); Statement s = c.createStatement()) {
                    s.executeUpdate("UPDATE todo SET done = true WHERE id = 1");
                }
                try (var scope = AnnalsContext.with(Map.of("step", "two", "user_id", 2)); Statement s = c.createStatement()) {
                    s.executeUpdate("UPDATE todo SET done = true WHERE id = 2");
                }
                try (Statement s = c.createStatement()) {
                    s.executeUpdate("UPDATE todo SET done = true WHERE id = 3"); // no context bound any more
                }
                c.commit();
            }
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> updates = changes(url, "\"table\" = 'todo' AND operation = 'UPDATE'");
            assertThat(updates).hasSize(3);
            assertThat(updates).extracting(Change::transactionId).containsOnly(updates.get(0).transactionId());
            assertThat(updates.get(0).primaryKey()).isEqualTo(object("id", 1));
            assertThat(updates.get(0).context()).isEqualTo(object("step", "one", "user_id", 1));
            assertThat(updates.get(1).primaryKey()).isEqualTo(object("id", 2));
            assertThat(updates.get(1).context()).isEqualTo(object("step", "two", "user_id", 2));
            assertThat(updates.get(2).primaryKey()).isEqualTo(object("id", 3));
            assertThat(updates.get(2).context()).isEqualTo(object());
        }
    }

    @Test
    void directSqlWithoutContextGetsAnEmptyObject() throws Exception {
        String url = table(newDatabase("cap_ctx_none"));
        ContextDataSource app = app(url);
        try (CaptureWorker worker = start(url)) {
            try (var scope = AnnalsContext.with(Map.of("user_id", 42));
                 Connection c = app.getConnection(); Statement s = c.createStatement()) {
                s.executeUpdate("INSERT INTO todo (id, title) VALUES (1, 'with context')");
            }
            // The next transaction must not inherit the previous one's context.
            sql(url, "INSERT INTO todo (id, title) VALUES (2, 'direct')");
            try (Connection c = app.getConnection(); Statement s = c.createStatement()) {
                s.executeUpdate("INSERT INTO todo (id, title) VALUES (3, 'wrapped, nothing bound')");
            }
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = changesOf(url, "todo");
            assertThat(changes).extracting(Change::context).containsExactly(object("user_id", 42), object(), object());
            assertThat(scalar(url, "SELECT count(*) FROM annals.changes WHERE context IS NULL")).isEqualTo("0");
        }
    }

    @Test
    void bemiMessagesEmittedBySqlAreStitched() {
        String url = table(newDatabase("cap_ctx_bemi"));
        sql(url, "INSERT INTO todo (id, title) VALUES (1, 'a'), (2, 'b')");
        try (CaptureWorker worker = start(url)) {
            TestPostgres.transaction(url, "SELECT pg_logical_emit_message(true, '_bemi', '{\"user\":\"x\"}')",
                    "UPDATE todo SET done = true WHERE id = 1");
            TestPostgres.transaction(url, "SELECT pg_logical_emit_message(true, 'annals', '{\"user\":\"y\",\"n\":[1,2]}')",
                    "UPDATE todo SET done = true WHERE id = 2",
                    "SELECT pg_logical_emit_message(true, '_bemi', '{\"user\":\"z\"}')",
                    "DELETE FROM todo WHERE id = 1");
            // A non-transactional message and one with another prefix are not contexts.
            TestPostgres.transaction(url, "SELECT pg_logical_emit_message(false, 'annals', '{\"user\":\"ignored\"}')",
                    "SELECT pg_logical_emit_message(true, 'other', '{\"user\":\"ignored\"}')",
                    "INSERT INTO todo (id, title) VALUES (3, 'c')");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = streamedChangesOf(url, "todo");
            assertThat(changes).extracting(Change::operation).containsExactly("UPDATE", "UPDATE", "DELETE", "CREATE");
            assertThat(changes.get(0).context()).isEqualTo(object("user", "x"));
            assertThat(changes.get(1).context()).isEqualTo(object("user", "y", "n", List.of(1, 2)));
            assertThat(changes.get(2).context()).isEqualTo(object("user", "z"));
            assertThat(changes.get(3).context()).isEqualTo(object());
        }
    }

    @Test
    void invalidContextPayloadIsKeptUnderAMarkerKey() {
        String url = table(newDatabase("cap_ctx_invalid"));
        try (CaptureWorker worker = start(url)) {
            TestPostgres.transaction(url, "SELECT pg_logical_emit_message(true, 'annals', 'not json at all {')",
                    "INSERT INTO todo (id, title) VALUES (1, 'a')");
            TestPostgres.transaction(url, "SELECT pg_logical_emit_message(true, '_bemi', '[1, 2]')",
                    "INSERT INTO todo (id, title) VALUES (2, 'b')");
            TestPostgres.transaction(url, "SELECT pg_logical_emit_message(true, 'annals', '{\"a\":1} trailing')",
                    "INSERT INTO todo (id, title) VALUES (3, 'c')");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = changesOf(url, "todo");
            assertThat(changes).hasSize(3);
            assertThat(changes.get(0).context()).isEqualTo(object("annals.invalid_context", "not json at all {"));
            assertThat(changes.get(1).context()).isEqualTo(object("annals.invalid_context", "[1, 2]"));
            assertThat(changes.get(2).context()).isEqualTo(object("annals.invalid_context", "{\"a\":1} trailing"));
        }
    }

    @Test
    void contextWithUnicodeAndNestedValuesRoundTrips() throws Exception {
        String url = table(newDatabase("cap_ctx_unicode"));
        ContextDataSource app = app(url);
        Map<String, Object> ctx = new LinkedHashMap<>();
        ctx.put("user", "Zoë \"the\" \\admin\\ 日本 😀");
        ctx.put("roles", List.of("a", "b"));
        ctx.put("meta", Map.of("depth", 2, "ok", true));
        try (CaptureWorker worker = start(url)) {
            try (var scope = AnnalsContext.with(ctx); Connection c = app.getConnection(); Statement s = c.createStatement()) {
                s.executeUpdate("INSERT INTO todo (id, title) VALUES (1, 'x')");
            }
            worker.awaitCaughtUp(CATCH_UP);
            Change change = changesOf(url, "todo").get(0);
            assertThat(change.context()).isEqualTo(JSON.valueToTree(ctx));
        }
    }

    @Test
    void contextIsStoredForSnapshotRowsAsEmpty() {
        String url = table(newDatabase("cap_ctx_snapshot"));
        sql(url, "INSERT INTO todo (id, title) VALUES (1, 'a')");
        try (CaptureWorker worker = start(url)) {
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = changesOf(url, "todo");
            assertThat(changes).hasSize(1);
            assertThat(changes.get(0).operation()).isEqualTo("SNAPSHOT");
            assertThat(changes.get(0).context()).isEqualTo(object());
        }
    }

    /**
     * A transaction larger than logical_decoding_work_mem (1MB on the test server) is streamed in
     * blocks before it commits, interleaved with other transactions: each row still gets the
     * context of its own transaction.
     */
    @Test
    void largeStreamedTransactionKeepsItsContextsApartFromConcurrentOnes() throws Exception {
        String url = newDatabase("cap_ctx_streamed");
        sql(url, "CREATE TABLE big (id int PRIMARY KEY, payload text)");
        ContextDataSource app = app(url);
        try (CaptureWorker worker = start(url);
             Connection big = app.getConnection(); Connection small = app.getConnection()) {
            big.setAutoCommit(false);
            try (Statement s = big.createStatement(); Statement other = small.createStatement()) {
                try (var scope = AnnalsContext.with(Map.of("job", "import", "part", 1))) {
                    s.executeUpdate("INSERT INTO big SELECT g, repeat('x', 200) || g FROM generate_series(1, 10000) g");
                }
                try (var scope = AnnalsContext.with(Map.of("user", "small"))) {
                    other.executeUpdate("INSERT INTO big VALUES (-1, 'small')");
                }
                try (var scope = AnnalsContext.with(Map.of("job", "import", "part", 2))) {
                    s.executeUpdate("INSERT INTO big SELECT g, repeat('y', 200) || g FROM generate_series(10001, 20000) g");
                }
                big.commit();
            }
            worker.awaitCaughtUp(Duration.ofSeconds(60));
        }
        assertThat(query(url, "SELECT CASE WHEN (primary_key ->> 'id')::int < 0 THEN 'small'"
                + " WHEN (primary_key ->> 'id')::int <= 10000 THEN 'part 1' ELSE 'part 2' END, context::text, count(*)"
                + " FROM annals.changes WHERE \"table\" = 'big' GROUP BY 1, 2 ORDER BY 1"))
                .containsExactly(
                        List.of("part 1", "{\"job\": \"import\", \"part\": 1}", "10000"),
                        List.of("part 2", "{\"job\": \"import\", \"part\": 2}", "10000"),
                        List.of("small", "{\"user\": \"small\"}", "1"));
    }

    /**
     * A context emitted inside a subtransaction that is rolled back is not part of the
     * transaction: the rows after the rollback carry the context in force before the savepoint.
     * Checked with the transaction streamed before it commits (it is large) and without streaming.
     */
    @ParameterizedTest(name = "streaming={0}")
    @ValueSource(booleans = {false, true})
    void contextFromARolledBackSubtransactionDoesNotApply(boolean streaming) throws Exception {
        String url = newDatabase("cap_ctx_savepoint");
        sql(url, "CREATE TABLE big (id int PRIMARY KEY, payload text)");
        try (CaptureWorker worker = start(options(url).streaming(streaming));
             Connection c = TestPostgres.connect(url); Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            s.execute("SELECT pg_logical_emit_message(true, 'annals', '{\"ctx\":\"outer\"}')");
            s.execute("INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 10000) g");
            s.execute("SAVEPOINT sp");
            s.execute("SELECT pg_logical_emit_message(true, 'annals', '{\"ctx\":\"rolled back\"}')");
            s.execute("INSERT INTO big SELECT g, repeat('z', 200) FROM generate_series(10001, 20000) g");
            s.execute("ROLLBACK TO SAVEPOINT sp");
            s.execute("UPDATE big SET payload = 'after rollback' WHERE id <= 10");
            c.commit();
            worker.awaitCaughtUp(Duration.ofSeconds(60));
        }
        assertThat(query(url, "SELECT operation, context::text, count(*) FROM annals.changes WHERE \"table\" = 'big'"
                + " GROUP BY 1, 2 ORDER BY 1, 2"))
                .containsExactly(
                        List.of("CREATE", "{\"ctx\": \"outer\"}", "10000"),
                        List.of("UPDATE", "{\"ctx\": \"outer\"}", "10"));
    }
}
