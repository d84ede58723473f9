package io.annals.history.revert;

import io.annals.context.AnnalsContext;
import io.annals.context.ContextDataSource;
import io.annals.history.Change;
import io.annals.history.LiveDatabase;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A revert never writes a value the change log did not keep (masked, omitted, or missing from a
 * key-only image), and never overwrites a write it did not see: one named case for each hole that
 * was found.
 */
class RevertSafetyTest {

    private static LiveDatabase db;

    @BeforeAll
    static void start() {
        db = LiveDatabase.create("revert_safety",
                b -> b.maskColumns(List.of("public.users*.password")).omitColumns(List.of("public.notes*.note")),
                "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, password text)",
                "CREATE TABLE users_full (id int PRIMARY KEY, name text NOT NULL, password text)",
                "ALTER TABLE users_full REPLICA IDENTITY FULL",
                "CREATE TABLE notes (id int PRIMARY KEY, title text NOT NULL, note text DEFAULT 'default note')",
                "CREATE TABLE notes_full (id int PRIMARY KEY, title text NOT NULL, note text DEFAULT 'default note')",
                "ALTER TABLE notes_full REPLICA IDENTITY FULL",
                "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, amount numeric, rev int NOT NULL DEFAULT 0)");
    }

    @AfterAll
    static void stop() {
        if (db != null) db.close();
    }

    /** Runs each statement in its own transaction under {@code request_id = request}. */
    @SuppressWarnings("try")
    private static void request(String request, String... statements) {
        DataSource app = ContextDataSource.wrap(db.dataSource);
        try (AnnalsContext.Scope ignored = AnnalsContext.with(Map.of("request_id", request));
             Connection c = app.getConnection(); Statement s = c.createStatement()) {
            for (String sql : statements) s.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    private static Revert revert(String request) {
        return db.trail.revert(db.trail.changes().contextContains(Map.of("request_id", request)));
    }

    private static String fresh() {
        return UUID.randomUUID().toString();
    }

    @Test
    void aDeletedUserWithAMaskedPasswordIsNeverReinsertedWithThePlaceholder() {
        db.execute("TRUNCATE users", "INSERT INTO users VALUES (1, 'ann', 's3cret'), (2, 'bob', 'hunter2')");
        db.sync();
        String r9 = fresh();
        request(r9, "DELETE FROM users WHERE id = 1", "UPDATE users SET name = 'robert' WHERE id = 2");
        db.sync();
        List<String> now = db.rows("SELECT u::text FROM users u ORDER BY id");

        RevertPlan plan = revert(r9).plan();
        assertThat(plan.steps()).as("no statement writes the placeholder").isEmpty();
        // The DELETE needs the password back; the rename cannot be told apart from a password change,
        // since the table logs only its key on UPDATE and the password is masked on both sides.
        assertThat(plan.conflicts()).hasSize(2).allSatisfy(c -> {
            assertThat(c.kind()).isEqualTo(RevertPlan.ConflictKind.OLD_VALUE_UNKNOWN);
            assertThat(c.columns()).containsExactly("password");
            assertThat(c.detail()).contains("password", "masked");
        });
        assertThat(plan.conflicts().get(1).detail()).contains("deleted row");
        assertThat(plan.conflicts().get(0).detail()).contains("REPLICA IDENTITY", "cannot tell");
        assertThat(plan.blocked()).isTrue();
        assertThatThrownBy(plan::apply).isInstanceOf(RevertConflictException.class)
                .hasMessageContaining("nothing was written");
        assertThatThrownBy(() -> revert(r9).onConflict(ConflictPolicy.FORCE).plan().apply())
                .isInstanceOf(RevertConflictException.class).hasMessageContaining("never writes a value");
        RevertPlan.Outcome skipped = revert(r9).onConflict(ConflictPolicy.SKIP).plan().apply();
        assertThat(skipped.applied()).isZero();
        assertThat(skipped.reverted()).isEmpty();
        assertThat(skipped.skipped()).hasSize(2);
        assertThat(db.rows("SELECT u::text FROM users u ORDER BY id")).isEqualTo(now);
        assertThat(db.rows("SELECT count(*) FROM users WHERE password = '****'")).containsExactly("0");
    }

    @Test
    void underReplicaIdentityFullAMaskedColumnThatDidNotChangeDoesNotBlockAndOneThatChangedDoes() {
        db.execute("TRUNCATE users_full", "INSERT INTO users_full VALUES (1, 'ann', 's3cret'), (2, 'bob', 'hunter2'),"
                + " (3, 'cid', NULL)");
        db.sync();
        String request = fresh();
        request(request, "DELETE FROM users_full WHERE id = 1", "UPDATE users_full SET name = 'robert' WHERE id = 2",
                "UPDATE users_full SET password = 'new one' WHERE id = 2", "DELETE FROM users_full WHERE id = 3");
        db.sync();

        List<Change> changes = db.trail.changes().table("users_full").contextContains(Map.of("request_id", request)).list();
        assertThat(changes).hasSize(4);
        assertThat(changes.get(1).changedColumns()).containsExactly("name");
        assertThat(changes.get(2).changedColumns()).as("a masked value that changed is still a change")
                .containsExactly("password");
        assertThat(changes.get(2).withheldColumns()).containsExactly("password");
        assertThat(changes.get(3).withheldColumns()).as("a NULL is stored as NULL, not masked").isEmpty();

        RevertPlan plan = revert(request).onConflict(ConflictPolicy.SKIP).plan();
        // Newest first: the DELETE of cid (NULL password: known) reverts; the password change cannot;
        // so the rename of the same row is left alone with it; the DELETE of ann needs her password.
        assertThat(plan.conflicts()).extracting(RevertPlan.Conflict::kind).containsExactly(
                RevertPlan.ConflictKind.OLD_VALUE_UNKNOWN, RevertPlan.ConflictKind.ROW_SKIPPED,
                RevertPlan.ConflictKind.OLD_VALUE_UNKNOWN);
        RevertPlan.Outcome outcome = plan.apply();
        assertThat(outcome.reverted()).singleElement().satisfies(c -> assertThat(c.primaryKey().get("id").asInt()).isEqualTo(3));
        assertThat(db.rows("SELECT u::text FROM users_full u ORDER BY id"))
                .containsExactly("(2,robert,\"new one\")", "(3,cid,)");

        // A rename alone, under FULL, is revertible: the log saw that the password did not change.
        String rename = fresh();
        request(rename, "UPDATE users_full SET name = 'bobby' WHERE id = 2");
        db.sync();
        assertThat(revert(rename).plan().apply().applied()).isEqualTo(1);
        assertThat(db.rows("SELECT u::text FROM users_full u WHERE id = 2")).containsExactly("(2,robert,\"new one\")");
    }

    @Test
    void anOmittedColumnIsNeverRestoredAsItsDefault() {
        db.execute("TRUNCATE notes", "INSERT INTO notes VALUES (1, 'one', 'my private note')");
        db.sync();
        String request = fresh();
        request(request, "DELETE FROM notes WHERE id = 1");
        db.sync();
        RevertPlan plan = revert(request).plan();
        assertThat(plan.conflicts()).singleElement().satisfies(c -> {
            assertThat(c.kind()).isEqualTo(RevertPlan.ConflictKind.OLD_VALUE_UNKNOWN);
            assertThat(c.columns()).containsExactly("note");
            assertThat(c.detail()).contains("note", "omitColumns");
        });
        assertThatThrownBy(() -> revert(request).onConflict(ConflictPolicy.FORCE).plan().apply())
                .isInstanceOf(RevertConflictException.class);
        assertThat(revert(request).onConflict(ConflictPolicy.SKIP).plan().apply().applied()).isZero();
        assertThat(db.rows("SELECT count(*) FROM notes")).containsExactly("0");

        // Under REPLICA IDENTITY DEFAULT the log cannot tell whether an UPDATE changed the omitted note.
        db.execute("INSERT INTO notes VALUES (2, 'two', 'kept private')");
        String update = fresh();
        request(update, "UPDATE notes SET title = 'TWO', note = 'changed' WHERE id = 2");
        db.sync();
        assertThat(db.trail.changes().contextContains(Map.of("request_id", update)).list())
                .singleElement().satisfies(c -> assertThat(c.withheldColumns()).containsExactly("note"));
        assertThat(revert(update).plan().conflicts()).singleElement().satisfies(c -> {
            assertThat(c.kind()).isEqualTo(RevertPlan.ConflictKind.OLD_VALUE_UNKNOWN);
            assertThat(c.columns()).containsExactly("note");
            assertThat(c.detail()).contains("omitted", "cannot tell");
        });
    }

    @Test
    void underReplicaIdentityFullAChangeOfAnOmittedColumnIsSeenAndBlocksOnlyThatUpdate() {
        db.execute("TRUNCATE notes_full", "INSERT INTO notes_full VALUES (1, 'one', 'private'), (2, 'two', 'private')");
        db.sync();
        String request = fresh();
        request(request, "UPDATE notes_full SET title = 'ONE' WHERE id = 1",
                "UPDATE notes_full SET note = 'changed' WHERE id = 2");
        db.sync();
        List<Change> changes = db.trail.changes().table("notes_full").contextContains(Map.of("request_id", request)).list();
        assertThat(changes.get(0).changedColumns()).containsExactly("title");
        assertThat(changes.get(1).changedColumns()).as("an omitted value that changed is still a change")
                .containsExactly("note");
        RevertPlan.Outcome outcome = revert(request).onConflict(ConflictPolicy.SKIP).plan().apply();
        assertThat(outcome.skipped()).singleElement().satisfies(c -> {
            assertThat(c.kind()).isEqualTo(RevertPlan.ConflictKind.OLD_VALUE_UNKNOWN);
            assertThat(c.columns()).containsExactly("note");
        });
        assertThat(db.rows("SELECT n::text FROM notes_full n ORDER BY id")).containsExactly("(1,one,private)", "(2,two,changed)");
    }

    @Test
    void aReinsertMeetingARowTheLogHasNotSeenIsAConflictNeverSilentlyKept() {
        db.execute("TRUNCATE items", "INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2)");
        db.sync();
        String request = fresh();
        request(request, "DELETE FROM items WHERE id = 1", "DELETE FROM items WHERE id = 2");
        db.sync();
        RevertPlan fail = revert(request).plan();
        RevertPlan skip = revert(request).onConflict(ConflictPolicy.SKIP).plan();
        assertThat(fail.conflicts()).isEmpty();
        // Someone re-creates row 1 before the revert runs; capture has not stored it yet, as far as the plans know.
        db.execute("INSERT INTO items VALUES (1, 'someone else', 99)");
        List<String> now = db.rows("SELECT i::text FROM items i ORDER BY id");

        assertThatThrownBy(fail::apply).isInstanceOfSatisfying(RevertConflictException.class, e ->
                assertThat(e.conflicts()).singleElement().satisfies(c -> {
                    assertThat(c.kind()).isEqualTo(RevertPlan.ConflictKind.ROW_MISMATCH);
                    assertThat(c.change().primaryKey().get("id").asInt()).isEqualTo(1);
                }));
        assertThat(db.rows("SELECT i::text FROM items i ORDER BY id")).isEqualTo(now);

        RevertPlan.Outcome outcome = skip.apply();
        assertThat(outcome.reverted()).singleElement().satisfies(c -> assertThat(c.primaryKey().get("id").asInt()).isEqualTo(2));
        assertThat(outcome.skipped()).singleElement().satisfies(c -> {
            assertThat(c.kind()).isEqualTo(RevertPlan.ConflictKind.ROW_MISMATCH);
            assertThat(c.change().primaryKey().get("id").asInt()).isEqualTo(1);
        });
        assertThat(db.rows("SELECT i::text FROM items i ORDER BY id")).containsExactly("(1,\"someone else\",99,0)", "(2,b,2,0)");
    }

    @Test
    void aRevertedUpdateIsGuardedByTheWholeRowAndByNumericScale() {
        db.execute("TRUNCATE items", "INSERT INTO items VALUES (1, 'a', 1.00), (2, 'b', 2.00)");
        db.sync();
        String request = fresh();
        request(request, "UPDATE items SET name = 'a2' WHERE id = 1", "UPDATE items SET amount = 2.50 WHERE id = 2");
        db.sync();
        RevertPlan plan = revert(request).plan();
        assertThat(plan.conflicts()).isEmpty();
        // Writes the log has not seen: another column of row 1, and the same number at another scale in row 2.
        db.execute("UPDATE items SET amount = 7 WHERE id = 1", "UPDATE items SET amount = 2.5 WHERE id = 2");
        List<String> now = db.rows("SELECT i::text FROM items i ORDER BY id");
        assertThatThrownBy(plan::apply).isInstanceOfSatisfying(RevertConflictException.class, e ->
                assertThat(e.conflicts()).extracting(c -> c.change().primaryKey().get("id").asInt()).containsExactly(2, 1));
        assertThat(db.rows("SELECT i::text FROM items i ORDER BY id")).isEqualTo(now);
    }

    @Test
    void aSkippedRowIsLeftAloneWholeAndAllOrNothingHoldsUnderSkip() {
        db.execute("TRUNCATE items", "INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2)");
        db.sync();
        List<String> before = db.rows("SELECT i::text FROM items i ORDER BY id");
        String request = fresh();
        request(request, "UPDATE items SET name = 'a1', rev = 1 WHERE id = 1", "UPDATE items SET name = 'b1', rev = 1 WHERE id = 2",
                "UPDATE items SET name = 'a2', rev = 2 WHERE id = 1");
        db.sync();
        RevertPlan plan = revert(request).onConflict(ConflictPolicy.SKIP).plan();
        db.execute("UPDATE items SET amount = 10 WHERE id = 1");
        RevertPlan.Outcome outcome = plan.apply();
        // Row 1's newest change no longer matches: both of row 1's changes are left alone, row 2 reverts.
        assertThat(outcome.reverted()).singleElement().satisfies(c -> assertThat(c.primaryKey().get("id").asInt()).isEqualTo(2));
        assertThat(outcome.skipped()).extracting(RevertPlan.Conflict::kind)
                .containsExactlyInAnyOrder(RevertPlan.ConflictKind.ROW_MISMATCH, RevertPlan.ConflictKind.ROW_SKIPPED);
        assertThat(db.rows("SELECT i::text FROM items i ORDER BY id")).containsExactly("(1,a2,10,2)", before.get(1));
    }

    @Test
    void aTruncateIsRestoredWholeOrNotAtAll() {
        db.execute("TRUNCATE items", "INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)");
        db.sync();
        List<String> before = db.rows("SELECT i::text FROM items i ORDER BY id");
        String request = fresh();
        request(request, "TRUNCATE items");
        db.sync();
        RevertPlan skip = revert(request).onConflict(ConflictPolicy.SKIP).plan();
        RevertPlan fail = revert(request).plan();
        db.execute("INSERT INTO items VALUES (2, 'back early', 0)");
        assertThatThrownBy(fail::apply).isInstanceOf(RevertConflictException.class);
        RevertPlan.Outcome outcome = skip.apply();
        assertThat(outcome.reverted()).isEmpty();
        assertThat(outcome.skipped()).singleElement().satisfies(c -> assertThat(c.kind()).isEqualTo(RevertPlan.ConflictKind.ROW_MISMATCH));
        assertThat(db.rows("SELECT i::text FROM items i ORDER BY id")).containsExactly("(2,\"back early\",0,0)");

        // Under force, the rows it removed overwrite what holds their keys now.
        db.sync();
        assertThat(revert(request).onConflict(ConflictPolicy.FORCE).plan().apply().applied()).isEqualTo(1);
        assertThat(db.rows("SELECT i::text FROM items i ORDER BY id")).isEqualTo(before);
    }

    @Test
    void theDryRunScriptIsSafeInASessionWithoutStandardConformingStringsAndStopsOnAFailedGuard() throws SQLException {
        db.execute("TRUNCATE items", "INSERT INTO items VALUES (1, 'back\\slash '' quote', 1), (2, 'b', 2)");
        db.sync();
        List<String> before = db.rows("SELECT i::text FROM items i ORDER BY id");
        String request = fresh();
        request(request, "DELETE FROM items WHERE id = 1", "UPDATE items SET name = 'c:\\new' WHERE id = 2");
        db.sync();
        String script = revert(request).plan().sql();
        assertThat(script).contains("E'", "DO $annals$", "pg_logical_emit_message");

        // A guard that fails stops the script: nothing is written.
        db.execute("UPDATE items SET amount = 5 WHERE id = 2");
        List<String> changed = db.rows("SELECT i::text FROM items i ORDER BY id");
        assertThatThrownBy(() -> runScript(script)).isInstanceOf(SQLException.class).hasMessageContaining("annals revert");
        assertThat(db.rows("SELECT i::text FROM items i ORDER BY id")).isEqualTo(changed);

        db.execute("UPDATE items SET amount = 2 WHERE id = 2");
        runScript(script);
        assertThat(db.rows("SELECT i::text FROM items i ORDER BY id")).isEqualTo(before);
    }

    /** Runs a script as a user would paste it into psql, in a session with the old string syntax. */
    private static void runScript(String script) throws SQLException {
        try (Connection c = TestPostgres.connect(db.url); Statement s = c.createStatement()) {
            s.execute("SET standard_conforming_strings = off");
            s.execute("SET escape_string_warning = off");
            try {
                s.execute(script);
            } finally {
                c.setAutoCommit(true); // a failed script leaves its transaction aborted
                s.execute("ROLLBACK");
            }
        }
    }
}
