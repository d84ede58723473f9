package io.annals.context;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

// Scopes are held only to be closed; Java 21 has no unnamed variables to say so.
@SuppressWarnings("try")
class ContextDataSourceTest {

    private String url;
    private Wal wal;
    private PGSimpleDataSource postgres;
    private ContextDataSource db;

    @BeforeEach
    void setUp() throws Exception {
        url = TestPostgres.newDatabase("context");
        TestPostgres.execute(url, "CREATE TABLE todo (id int PRIMARY KEY, title text NOT NULL, done boolean NOT NULL DEFAULT false)");
        wal = Wal.open(url);
        postgres = new PGSimpleDataSource();
        postgres.setURL(url);
        db = ContextDataSource.wrap(postgres);
    }

    @AfterEach
    void tearDown() throws Exception {
        wal.close();
        assertThat(AnnalsContext.current().isEmpty()).as("no test leaves a context bound").isTrue();
    }

    @Test
    void recordsTheContextInTheSameTransactionAsAnAutocommitWrite() throws Exception {
        try (var scope = AnnalsContext.with(Map.of("user_id", 42, "endpoint", "/todo"));
             Connection c = db.getConnection(); Statement s = c.createStatement()) {
            assertThat(s.executeUpdate("INSERT INTO todo (id, title) VALUES (1, 'milk')")).isEqualTo(1);
            assertThat(c.getAutoCommit()).as("autocommit restored").isTrue();
        }
        assertThat(wal.changes()).containsExactly(
                "BEGIN",
                Wal.message("{\"endpoint\":\"/todo\",\"user_id\":42}"),
                "table public.todo: INSERT: id[integer]:1 title[text]:'milk' done[boolean]:false",
                "COMMIT");
    }

    @Test
    void emitsBeforeEachChangeOfContextWithinATransaction() throws Exception {
        try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            try (var scope = AnnalsContext.with(Map.of("user_id", 1))) {
                s.executeUpdate("INSERT INTO todo (id, title) VALUES (1, 'milk')");
            }
            try (var scope = AnnalsContext.with(Map.of("user_id", 2))) {
                s.executeUpdate("INSERT INTO todo (id, title) VALUES (2, 'eggs')");
            }
            c.commit();
        }
        assertThat(wal.changes()).containsExactly(
                "BEGIN",
                Wal.message("{\"user_id\":1}"),
                "table public.todo: INSERT: id[integer]:1 title[text]:'milk' done[boolean]:false",
                Wal.message("{\"user_id\":2}"),
                "table public.todo: INSERT: id[integer]:2 title[text]:'eggs' done[boolean]:false",
                "COMMIT");
    }

    @Test
    void emitsOnceForSeveralStatementsUnderOneContext() throws Exception {
        try (var scope = AnnalsContext.with(Map.of("user_id", 1)); Connection c = db.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement insert = c.prepareStatement("INSERT INTO todo (id, title) VALUES (?, ?)");
                 Statement s = c.createStatement()) {
                for (int id = 1; id <= 3; id++) {
                    insert.setInt(1, id);
                    insert.setString(2, "item " + id);
                    insert.executeUpdate();
                }
                s.executeUpdate("UPDATE todo SET done = true WHERE id = 2");
                s.executeUpdate("DELETE FROM todo WHERE id = 3");
            }
            c.commit();
        }
        List<String> lines = wal.changes();
        assertThat(Wal.messages(lines)).containsExactly("{\"user_id\":1}");
        assertThat(lines.get(1)).isEqualTo(Wal.message("{\"user_id\":1}"));
        assertThat(lines).hasSize(1 + 1 + 5 + 1);
    }

    @Test
    void aBulkUpdateOfManyRowsGetsExactlyOneMessage() throws Exception {
        TestPostgres.execute(url, "INSERT INTO todo (id, title) SELECT g, 'item ' || g FROM generate_series(1, 500) g");
        wal.changes();
        try (var scope = AnnalsContext.with(Map.of("job", "close-all")); Connection c = db.getConnection();
             Statement s = c.createStatement()) {
            assertThat(s.executeUpdate("UPDATE todo SET done = true")).isEqualTo(500);
        }
        List<String> lines = wal.changes();
        assertThat(lines).hasSize(1 + 1 + 500 + 1);
        assertThat(Wal.messages(lines)).containsExactly("{\"job\":\"close-all\"}");
        assertThat(lines.get(1)).startsWith(Wal.MESSAGE);
        assertThat(lines.subList(2, 502)).allMatch(line -> line.startsWith("table public.todo: UPDATE:"));
    }

    @Test
    void includeSqlAddsTheStatementTextAndEmitsPerStatement() throws Exception {
        ContextDataSource withSql = db.includeSql(true);
        try (var scope = AnnalsContext.with(Map.of("user_id", 7)); Connection c = withSql.getConnection()) {
            try (PreparedStatement insert = c.prepareStatement("INSERT INTO todo (id, title) VALUES (?, ?)")) {
                insert.setInt(1, 1);
                insert.setString(2, "milk");
                insert.executeUpdate();
            }
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.executeUpdate("UPDATE todo SET done = true WHERE id = 1");
                s.executeUpdate("UPDATE todo SET title = 'oat milk' WHERE id = 1");
            }
            c.commit();
        }
        List<String> lines = wal.changes();
        assertThat(Wal.messages(lines)).containsExactly(
                "{\"user_id\":7,\"sql\":\"INSERT INTO todo (id, title) VALUES (?, ?)\"}",
                "{\"user_id\":7,\"sql\":\"UPDATE todo SET done = true WHERE id = 1\"}",
                "{\"user_id\":7,\"sql\":\"UPDATE todo SET title = 'oat milk' WHERE id = 1\"}");
        assertThat(lines).filteredOn(line -> !line.startsWith(Wal.MESSAGE)).containsExactly(
                "BEGIN", "table public.todo: INSERT: id[integer]:1 title[text]:'milk' done[boolean]:false", "COMMIT",
                "BEGIN",
                "table public.todo: UPDATE: id[integer]:1 title[text]:'milk' done[boolean]:true",
                "table public.todo: UPDATE: id[integer]:1 title[text]:'oat milk' done[boolean]:true",
                "COMMIT");
    }

    @Test
    void cutsLongStatementTextButNeverTheContext() throws Exception {
        ContextDataSource withSql = db.includeSql(true).maxSqlBytes(20);
        try (var scope = AnnalsContext.with(Map.of("user_id", 7)); Connection c = withSql.getConnection();
             Statement s = c.createStatement()) {
            s.executeUpdate("INSERT INTO todo (id, title) VALUES (1, 'a rather long title')");
        }
        assertThat(Wal.messages(wal.changes()))
                .containsExactly("{\"user_id\":7,\"sql\":\"INSERT INTO todo (id\",\"sql_truncated\":true}");
    }

    @Test
    void emitsNothingOutsideAContext() throws Exception {
        try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
            s.executeUpdate("INSERT INTO todo (id, title) VALUES (1, 'milk')");
            c.setAutoCommit(false);
            s.executeUpdate("UPDATE todo SET done = true");
            c.commit();
        }
        List<String> lines = wal.changes();
        assertThat(lines).hasSize(6);
        assertThat(Wal.messages(lines)).isEmpty();
    }

    @Test
    void emitsNothingForReads() throws Exception {
        TestPostgres.execute(url, "INSERT INTO todo (id, title) VALUES (1, 'milk')");
        wal.changes();
        try (var scope = AnnalsContext.with(Map.of("user_id", 1)); Connection c = db.getConnection();
             Statement s = c.createStatement()) {
            try (ResultSet rs = s.executeQuery("SELECT title FROM todo")) {
                assertThat(rs.next()).isTrue();
            }
            s.execute("SET application_name = 'reads'");
            s.execute("SHOW wal_level");
            c.setAutoCommit(false);
            s.executeQuery("/* report */ SELECT count(*) FROM todo").close();
            c.commit();
        }
        assertThat(wal.changes()).isEmpty();
    }

    @Test
    void aFailingAutocommitWriteLeavesNoMessageBehind() throws Exception {
        TestPostgres.execute(url, "INSERT INTO todo (id, title) VALUES (1, 'milk')");
        wal.changes();
        try (var scope = AnnalsContext.with(Map.of("user_id", 1)); Connection c = db.getConnection();
             Statement s = c.createStatement()) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> s.executeUpdate("INSERT INTO todo (id, title) VALUES (1, 'again')"))
                    .isInstanceOf(java.sql.SQLException.class)
                    .hasMessageContaining("duplicate key");
            assertThat(c.getAutoCommit()).isTrue();
            assertThat(wal.changes()).as("nothing committed").isEmpty();

            s.executeUpdate("INSERT INTO todo (id, title) VALUES (2, 'eggs')");
        }
        assertThat(wal.changes()).containsExactly(
                "BEGIN",
                Wal.message("{\"user_id\":1}"),
                "table public.todo: INSERT: id[integer]:2 title[text]:'eggs' done[boolean]:false",
                "COMMIT");
    }

    @Test
    void aBatchIsOneTransactionWithOneMessage() throws Exception {
        try (var scope = AnnalsContext.with(Map.of("import", "csv")); Connection c = db.getConnection()) {
            try (PreparedStatement insert = c.prepareStatement("INSERT INTO todo (id, title) VALUES (?, ?)")) {
                for (int id = 1; id <= 3; id++) {
                    insert.setInt(1, id);
                    insert.setString(2, "item " + id);
                    insert.addBatch();
                }
                assertThat(insert.executeBatch()).containsExactly(1, 1, 1);
            }
            try (Statement s = c.createStatement()) {
                s.addBatch("UPDATE todo SET done = true WHERE id = 1");
                s.addBatch("DELETE FROM todo WHERE id = 2");
                assertThat(s.executeLargeBatch()).containsExactly(1L, 1L);
            }
            assertThat(c.getAutoCommit()).isTrue();
        }
        List<String> lines = wal.changes();
        assertThat(lines).containsExactly(
                "BEGIN",
                Wal.message("{\"import\":\"csv\"}"),
                "table public.todo: INSERT: id[integer]:1 title[text]:'item 1' done[boolean]:false",
                "table public.todo: INSERT: id[integer]:2 title[text]:'item 2' done[boolean]:false",
                "table public.todo: INSERT: id[integer]:3 title[text]:'item 3' done[boolean]:false",
                "COMMIT",
                "BEGIN",
                Wal.message("{\"import\":\"csv\"}"),
                "table public.todo: UPDATE: id[integer]:1 title[text]:'item 1' done[boolean]:true",
                "table public.todo: DELETE: id[integer]:2",
                "COMMIT");
    }

    @Test
    void aBatchWithIncludeSqlCarriesEveryStatement() throws Exception {
        try (var scope = AnnalsContext.with(Map.of("import", "csv")); Connection c = db.includeSql(true).getConnection();
             Statement s = c.createStatement()) {
            s.addBatch("INSERT INTO todo (id, title) VALUES (1, 'a')");
            s.addBatch("INSERT INTO todo (id, title) VALUES (2, 'b')");
            s.executeBatch();
        }
        assertThat(Wal.messages(wal.changes())).containsExactly("{\"import\":\"csv\",\"sql\":"
                + "\"INSERT INTO todo (id, title) VALUES (1, 'a');\\nINSERT INTO todo (id, title) VALUES (2, 'b')\"}");
    }

    @Test
    void unbindingMidTransactionMarksTheFollowingRowsAsWithoutContext() throws Exception {
        try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            try (var scope = AnnalsContext.with(Map.of("user_id", 1))) {
                s.executeUpdate("INSERT INTO todo (id, title) VALUES (1, 'milk')");
            }
            s.executeUpdate("INSERT INTO todo (id, title) VALUES (2, 'eggs')");
            s.executeUpdate("INSERT INTO todo (id, title) VALUES (3, 'tea')");
            c.commit();
        }
        List<String> lines = wal.changes();
        assertThat(Wal.messages(lines)).containsExactly("{\"user_id\":1}", "{}");
        assertThat(lines.get(3)).isEqualTo(Wal.message("{}"));
    }

    @Test
    void aNewTransactionGetsItsOwnMessage() throws Exception {
        try (var scope = AnnalsContext.with(Map.of("user_id", 1)); Connection c = db.getConnection();
             Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            s.executeUpdate("INSERT INTO todo (id, title) VALUES (1, 'rolled back')");
            c.rollback();
            s.executeUpdate("INSERT INTO todo (id, title) VALUES (2, 'kept')");
            c.commit();
            s.executeUpdate("INSERT INTO todo (id, title) VALUES (3, 'next')");
            s.execute("COMMIT"); // behind the driver's back
            s.executeUpdate("INSERT INTO todo (id, title) VALUES (4, 'last')");
            c.commit();
        }
        List<String> lines = wal.changes();
        assertThat(lines).filteredOn(line -> line.equals("BEGIN")).hasSize(3);
        assertThat(Wal.messages(lines)).containsExactly("{\"user_id\":1}", "{\"user_id\":1}", "{\"user_id\":1}");
        assertThat(lines).doesNotContain("table public.todo: INSERT: id[integer]:1 title[text]:'rolled back' done[boolean]:false");
    }

    @Test
    void rollingBackToASavepointReemitsTheContext() throws Exception {
        try (var scope = AnnalsContext.with(Map.of("user_id", 1)); Connection c = db.getConnection();
             Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            var savepoint = c.setSavepoint();
            s.executeUpdate("INSERT INTO todo (id, title) VALUES (1, 'undone')");
            c.rollback(savepoint);
            s.executeUpdate("INSERT INTO todo (id, title) VALUES (2, 'kept')");
            c.commit();
        }
        assertThat(wal.changes()).containsExactly(
                "BEGIN",
                Wal.message("{\"user_id\":1}"),
                "table public.todo: INSERT: id[integer]:2 title[text]:'kept' done[boolean]:false",
                "COMMIT");
    }

    @Test
    void aWriteThroughExecuteQueryReturnsAllItsRows() throws Exception {
        try (var scope = AnnalsContext.with(Map.of("user_id", 1)); Connection c = db.getConnection();
             Statement s = c.createStatement()) {
            s.setFetchSize(1);
            List<Integer> ids = new java.util.ArrayList<>();
            try (ResultSet rs = s.executeQuery(
                    "INSERT INTO todo (id, title) SELECT g, 'item' FROM generate_series(1, 3) g RETURNING id")) {
                while (rs.next()) {
                    ids.add(rs.getInt(1));
                }
            }
            assertThat(ids).containsExactly(1, 2, 3);
            assertThat(s.getFetchSize()).isEqualTo(1);
        }
        assertThat(Wal.messages(wal.changes())).containsExactly("{\"user_id\":1}");
    }

    @Test
    void statementsThatCannotRunInATransactionAreLeftAlone() throws Exception {
        try (var scope = AnnalsContext.with(Map.of("user_id", 1)); Connection c = db.getConnection();
             Statement s = c.createStatement()) {
            s.execute("VACUUM todo");
            s.execute("CREATE INDEX CONCURRENTLY todo_title ON todo (title)");
        }
        assertThat(Wal.messages(wal.changes())).isEmpty();
    }

    @Test
    void aWithQueryCountsAsAWrite() throws Exception {
        try (var scope = AnnalsContext.with(Map.of("user_id", 1)); Connection c = db.getConnection();
             Statement s = c.createStatement()) {
            s.execute("WITH added AS (INSERT INTO todo (id, title) VALUES (1, 'milk') RETURNING id) SELECT id FROM added");
        }
        assertThat(wal.changes()).containsExactly(
                "BEGIN",
                Wal.message("{\"user_id\":1}"),
                "table public.todo: INSERT: id[integer]:1 title[text]:'milk' done[boolean]:false",
                "COMMIT");
    }

    @Test
    void aCapturedContextFollowsWorkToAnotherThread() throws Exception {
        var executor = java.util.concurrent.Executors.newSingleThreadExecutor();
        try (var scope = AnnalsContext.with(Map.of("user_id", 5))) {
            executor.submit(AnnalsContext.current().wrap(() -> {
                try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
                    return s.executeUpdate("INSERT INTO todo (id, title) VALUES (1, 'milk')");
                }
            })).get();
            // The pool thread is clean again once the task is done.
            assertThat(executor.submit(() -> AnnalsContext.current().isEmpty()).get()).isTrue();
        } finally {
            executor.shutdown();
        }
        assertThat(Wal.messages(wal.changes())).containsExactly("{\"user_id\":5}");
    }

    @Test
    void anInvalidContextFailsWhereItIsBoundAndEmitsNothing() throws Exception {
        try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> {
                try (var scope = AnnalsContext.with(Map.of("user", new Object()))) {
                    s.executeUpdate("INSERT INTO todo (id, title) VALUES (1, 'milk')");
                }
            }).isInstanceOf(InvalidContextException.class);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> {
                try (var scope = AnnalsContext.with(Map.of("payload", "x".repeat(ContextMessage.DEFAULT_MAX_BYTES)))) {
                    s.executeUpdate("INSERT INTO todo (id, title) VALUES (2, 'eggs')");
                }
            }).isInstanceOf(InvalidContextException.class);
        }
        assertThat(wal.changes()).isEmpty();
    }

    @Test
    void emitsWithAnotherPrefixWhenAsked() throws Exception {
        try (var scope = AnnalsContext.with(Map.of("user_id", 1));
             Connection c = db.prefix(ContextMessage.BEMI_PREFIX).getConnection(); Statement s = c.createStatement()) {
            s.executeUpdate("INSERT INTO todo (id, title) VALUES (1, 'milk')");
        }
        assertThat(wal.changes()).contains(Wal.message(ContextMessage.BEMI_PREFIX, "{\"user_id\":1}"));
    }

    @Test
    void wrappersUnwrapToTheDriverAndKnowEachOther() throws Exception {
        assertThat(db.unwrap(PGSimpleDataSource.class)).isSameAs(postgres);
        assertThat(db.unwrap(ContextDataSource.class)).isSameAs(db);
        assertThat(db.isWrapperFor(PGSimpleDataSource.class)).isTrue();
        assertThat(ContextDataSource.wrap(db)).isSameAs(db);
        try (Connection c = db.getConnection(); Statement s = c.createStatement();
             PreparedStatement p = c.prepareStatement("SELECT 1"); var call = c.prepareCall("SELECT 1")) {
            assertThat(c.isWrapperFor(org.postgresql.PGConnection.class)).isTrue();
            assertThat(c.unwrap(org.postgresql.PGConnection.class)).isNotNull().isNotSameAs(c);
            assertThat(c.unwrap(Connection.class)).isSameAs(c);
            assertThat(s.getConnection()).isSameAs(c);
            assertThat(p.getConnection()).isSameAs(c);
            assertThat(call.getConnection()).isSameAs(c);
            assertThat(p.unwrap(org.postgresql.PGStatement.class)).isNotNull();
            assertThat(p.isWrapperFor(org.postgresql.PGStatement.class)).isTrue();
            assertThat(c).isEqualTo(c).isNotEqualTo(s);
        }
        try (Connection c = db.getConnection("postgres", "")) {
            assertThat(c.toString()).startsWith("ContextConnection[");
        }
        // The PostgreSQL driver offers no ConnectionBuilder; the wrapper must not invent one.
        org.assertj.core.api.Assertions.assertThatThrownBy(db::createConnectionBuilder)
                .isInstanceOf(java.sql.SQLFeatureNotSupportedException.class);
    }
}
