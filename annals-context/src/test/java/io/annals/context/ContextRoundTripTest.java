package io.annals.context;

import io.annals.testkit.RoundTrips;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The context message travels with the write it describes: no round trip of its own, counted on
 * the wire by a proxy, and still in the write's transaction and before its rows.
 */
// Scopes are held only to be closed; Java 21 has no unnamed variables to say so.
@SuppressWarnings("try")
class ContextRoundTripTest {

    @FunctionalInterface
    interface Work {
        void run(Connection c) throws Exception;
    }

    private String url;
    private Wal wal;
    private RoundTrips trips;
    private PGSimpleDataSource plain;
    private ContextDataSource db;

    @BeforeEach
    void setUp() throws Exception {
        url = TestPostgres.newDatabase("context_trips");
        TestPostgres.execute(url, "CREATE TABLE todo (id int PRIMARY KEY, title text NOT NULL, done boolean NOT NULL DEFAULT false)");
        TestPostgres.execute(url, "INSERT INTO todo (id, title) SELECT g, 'item ' || g FROM generate_series(1, 20) g");
        wal = Wal.open(url);
        trips = RoundTrips.in(url);
        plain = new PGSimpleDataSource();
        plain.setURL(trips.url());
        db = ContextDataSource.wrap(plain);
    }

    @AfterEach
    void tearDown() throws Exception {
        trips.close();
        wal.close();
        assertThat(AnnalsContext.current().isEmpty()).as("no test leaves a context bound").isTrue();
    }

    /** The round trips {@code work} makes on a fresh connection of {@code source}, connecting not counted. */
    private int roundTrips(DataSource source, Work work) throws Exception {
        try (Connection c = source.getConnection()) {
            int before = trips.count();
            work.run(c);
            return trips.count() - before;
        }
    }

    @Test
    void anAutocommitWriteUnderAContextIsOneRoundTrip() throws Exception {
        Work update = c -> {
            try (Statement s = c.createStatement()) {
                assertThat(s.executeUpdate("UPDATE todo SET done = true WHERE id = 1")).isEqualTo(1);
            }
        };
        assertThat(roundTrips(plain, update)).as("without the wrapper").isEqualTo(1);
        wal.changes();
        try (var scope = AnnalsContext.with(Map.of("user_id", 42))) {
            assertThat(roundTrips(db, update)).as("with the wrapper and a context").isEqualTo(1);
        }
        assertThat(wal.changes()).containsExactly(
                "BEGIN",
                Wal.message("{\"user_id\":42}"),
                "table public.todo: UPDATE: id[integer]:1 title[text]:'item 1' done[boolean]:true",
                "COMMIT");
    }

    @Test
    void aPreparedAutocommitWriteIsOneRoundTripEachTimeWithItsOwnContext() throws Exception {
        List<Integer> perWrite = new ArrayList<>();
        try (Connection c = db.getConnection(); PreparedStatement p = c.prepareStatement("UPDATE todo SET title = ? WHERE id = ?")) {
            // Past the driver's prepare threshold (5), where it switches to a named server-side statement.
            for (int id = 1; id <= 8; id++) {
                try (var scope = AnnalsContext.with(Map.of("request", "r" + id))) {
                    p.setString(1, "renamed " + id);
                    p.setInt(2, id);
                    int before = trips.count();
                    assertThat(p.executeUpdate()).isEqualTo(1);
                    perWrite.add(trips.count() - before);
                }
            }
        }
        assertThat(perWrite).containsOnly(1);
        List<String> lines = wal.changes();
        List<String> expected = new ArrayList<>();
        for (int id = 1; id <= 8; id++) {
            expected.add("BEGIN");
            expected.add(Wal.message("{\"request\":\"r" + id + "\"}"));
            expected.add("table public.todo: UPDATE: id[integer]:" + id + " title[text]:'renamed " + id + "' done[boolean]:false");
            expected.add("COMMIT");
        }
        assertThat(lines).containsExactlyElementsOf(expected);
    }

    @Test
    void anExplicitTransactionCostsNoMoreRoundTripsThanWithoutTheWrapper() throws Exception {
        Work transaction = c -> {
            c.setAutoCommit(false);
            try (PreparedStatement p = c.prepareStatement("UPDATE todo SET done = true WHERE id = ?"); Statement s = c.createStatement()) {
                p.setInt(1, 1);
                p.executeUpdate();
                try (var inner = AnnalsContext.with(Map.of("user_id", 2))) {
                    s.executeUpdate("UPDATE todo SET done = true WHERE id = 2");
                    p.setInt(1, 3);
                    p.executeUpdate();
                }
            }
            c.commit();
        };
        int without = roundTrips(plain, transaction);
        wal.changes();
        int with;
        try (var scope = AnnalsContext.with(Map.of("user_id", 1))) {
            with = roundTrips(db, transaction);
        }
        assertThat(with).as("with the wrapper, %d without", without).isEqualTo(without);
        assertThat(wal.changes()).containsExactly(
                "BEGIN",
                Wal.message("{\"user_id\":1}"),
                "table public.todo: UPDATE: id[integer]:1 title[text]:'item 1' done[boolean]:true",
                Wal.message("{\"user_id\":2}"),
                "table public.todo: UPDATE: id[integer]:2 title[text]:'item 2' done[boolean]:true",
                "table public.todo: UPDATE: id[integer]:3 title[text]:'item 3' done[boolean]:true",
                "COMMIT");
    }

    @Test
    void parametersSetBeforeAreReusedAndClearedParametersStillFail() throws Exception {
        try (Connection c = db.getConnection(); PreparedStatement p = c.prepareStatement("UPDATE todo SET title = ? WHERE id = ?")) {
            p.setString(1, "same");
            p.setInt(2, 1);
            try (var scope = AnnalsContext.with(Map.of("step", 1))) {
                p.executeUpdate();
            }
            p.setInt(2, 2);
            try (var scope = AnnalsContext.with(Map.of("step", 2))) {
                assertThat(p.executeUpdate()).isEqualTo(1);
                p.clearParameters();
                p.setInt(2, 3);
                assertThatThrownBy(p::executeUpdate).isInstanceOf(SQLException.class).hasMessageContaining("No value specified for parameter");
            }
        }
        List<String> lines = wal.changes();
        assertThat(Wal.messages(lines)).containsExactly("{\"step\":1}", "{\"step\":2}");
        assertThat(lines).contains(
                "table public.todo: UPDATE: id[integer]:1 title[text]:'same' done[boolean]:false",
                "table public.todo: UPDATE: id[integer]:2 title[text]:'same' done[boolean]:false");
    }

    @Test
    void aFailingPreparedWriteTakesItsMessageWithIt() throws Exception {
        try (var scope = AnnalsContext.with(Map.of("user_id", 1)); Connection c = db.getConnection();
             PreparedStatement insert = c.prepareStatement("INSERT INTO todo (id, title) VALUES (?, ?)")) {
            insert.setInt(1, 1);
            insert.setString(2, "again");
            assertThatThrownBy(insert::executeUpdate).isInstanceOf(SQLException.class).hasMessageContaining("duplicate key");
            assertThat(wal.changes()).as("nothing committed").isEmpty();
            insert.setInt(1, 21);
            assertThat(insert.executeUpdate()).isEqualTo(1);
        }
        assertThat(wal.changes()).containsExactly(
                "BEGIN",
                Wal.message("{\"user_id\":1}"),
                "table public.todo: INSERT: id[integer]:21 title[text]:'again' done[boolean]:false",
                "COMMIT");
    }

    @Test
    void aFailedWriteInATransactionRollsBackToASavepointAndTheNextWriteEmitsAgain() throws Exception {
        try (var scope = AnnalsContext.with(Map.of("user_id", 1)); Connection c = db.getConnection();
             PreparedStatement insert = c.prepareStatement("INSERT INTO todo (id, title) VALUES (?, 'x')")) {
            c.setAutoCommit(false);
            Statement s = c.createStatement();
            s.execute("SAVEPOINT before_insert"); // behind the driver's back, as some frameworks do
            insert.setInt(1, 1);
            assertThatThrownBy(insert::executeUpdate).hasMessageContaining("duplicate key");
            s.execute("ROLLBACK TO SAVEPOINT before_insert");
            insert.setInt(1, 22);
            insert.executeUpdate();
            c.commit();
        }
        assertThat(wal.changes()).containsExactly(
                "BEGIN",
                Wal.message("{\"user_id\":1}"),
                "table public.todo: INSERT: id[integer]:22 title[text]:'x' done[boolean]:false",
                "COMMIT");
    }

    @Test
    void theCallerSeesOnlyTheWritesResults() throws Exception {
        try (var scope = AnnalsContext.with(Map.of("user_id", 1)); Connection c = db.getConnection();
             Statement s = c.createStatement();
             PreparedStatement p = c.prepareStatement("UPDATE todo SET done = true WHERE id <= ?")) {
            assertThat(s.execute("UPDATE todo SET done = true WHERE id <= 3")).isFalse();
            assertThat(s.getUpdateCount()).isEqualTo(3);
            assertThat(s.getMoreResults()).isFalse();
            assertThat(s.getUpdateCount()).isEqualTo(-1);
            assertThat(s.executeLargeUpdate("UPDATE todo SET done = false WHERE id <= 2")).isEqualTo(2L);

            p.setInt(1, 4);
            assertThat(p.execute()).isFalse();
            assertThat(p.getUpdateCount()).isEqualTo(4);
            assertThat(p.getMoreResults()).isFalse();
            assertThat(p.getUpdateCount()).isEqualTo(-1);
            assertThat(p.executeLargeUpdate()).isEqualTo(4L);

            assertThat(s.execute("DELETE FROM todo WHERE id = 20 RETURNING id")).isTrue();
            try (ResultSet rs = s.getResultSet()) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getInt(1)).isEqualTo(20);
            }
            assertThatThrownBy(() -> s.executeUpdate("DELETE FROM todo WHERE id = 19 RETURNING id"))
                    .isInstanceOf(SQLException.class).hasMessageContaining("A result was returned when none was expected");
        }
    }

    @Test
    void queryResultsAndStatementSettingsStayTheApplications() throws Exception {
        try (var scope = AnnalsContext.with(Map.of("user_id", 1)); Connection c = db.getConnection();
             PreparedStatement p = c.prepareStatement(
                     "INSERT INTO todo (id, title) SELECT g, 'new' FROM generate_series(?, ?) g RETURNING id")) {
            c.setAutoCommit(false);
            p.setFetchSize(1); // in a transaction the driver then reads through a portal
            p.setInt(1, 101);
            p.setInt(2, 103);
            List<Integer> ids = new ArrayList<>();
            try (ResultSet rs = p.executeQuery()) {
                while (rs.next()) {
                    ids.add(rs.getInt(1));
                }
            }
            assertThat(ids).containsExactly(101, 102, 103);
            p.setMaxRows(1);
            p.setInt(1, 104);
            p.setInt(2, 106);
            try (ResultSet rs = p.executeQuery()) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.next()).as("setMaxRows applies to the statement that carries the message").isFalse();
            }
            c.commit();
        }
        List<String> lines = wal.changes();
        assertThat(Wal.messages(lines)).containsExactly("{\"user_id\":1}");
        assertThat(lines).filteredOn(line -> line.startsWith("table public.todo: INSERT")).hasSize(6);
    }

    @Test
    void generatedKeysStillWorkWithTheMessageSentAheadInTheSameTransaction() throws Exception {
        try (var scope = AnnalsContext.with(Map.of("user_id", 1)); Connection c = db.getConnection();
             PreparedStatement p = c.prepareStatement("INSERT INTO todo (id, title) VALUES (?, 'k')", Statement.RETURN_GENERATED_KEYS)) {
            p.setInt(1, 30);
            int before = trips.count();
            assertThat(p.executeUpdate()).isEqualTo(1);
            assertThat(trips.count() - before).as("message, statement, commit").isEqualTo(3);
            try (ResultSet keys = p.getGeneratedKeys()) {
                assertThat(keys.next()).isTrue();
                assertThat(keys.getInt("id")).isEqualTo(30);
            }
        }
        assertThat(wal.changes()).containsExactly(
                "BEGIN",
                Wal.message("{\"user_id\":1}"),
                "table public.todo: INSERT: id[integer]:30 title[text]:'k' done[boolean]:false",
                "COMMIT");
    }

    @Test
    void aContextFullOfQuotesAndBackslashesReachesTheWalAsItIs() throws Exception {
        String tricky = "it's a \\ back'slash'' \\' and $$ dollars $x$ ; -- not a comment /* nor this */ ?";
        String json;
        try (var scope = AnnalsContext.with(Map.of("note", tricky)); Connection c = db.getConnection(); Statement s = c.createStatement()) {
            json = AnnalsContext.current().toJson();
            s.executeUpdate("UPDATE todo SET done = true WHERE id = 1");
            s.execute("SET standard_conforming_strings = off");
            s.executeUpdate("UPDATE todo SET done = true WHERE id = 2");
        }
        assertThat(Wal.messages(wal.changes())).containsExactly(json, json);
    }
}
