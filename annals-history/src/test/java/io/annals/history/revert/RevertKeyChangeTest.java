package io.annals.history.revert;

import io.annals.context.AnnalsContext;
import io.annals.context.ContextDataSource;
import io.annals.history.LiveDatabase;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Reverting an UPDATE that changed a row's primary key puts the row back under its old key; if
 * another change has taken the old key since, that is a conflict like any other, found when
 * planning, not a failed statement.
 */
class RevertKeyChangeTest {

    private static final String ITEMS = "SELECT i::text FROM items i ORDER BY id";
    private static LiveDatabase db;

    @BeforeAll
    static void start() {
        db = LiveDatabase.create("revert_key_change", "CREATE TABLE items (id bigint PRIMARY KEY, v text NOT NULL)");
    }

    @AfterAll
    static void stop() {
        if (db != null) db.close();
    }

    @Test
    @SuppressWarnings("try")
    void anOldKeyTakenAgainByAnotherRequestIsAConflict() throws SQLException {
        DataSource app = ContextDataSource.wrap(db.dataSource);
        db.execute("INSERT INTO items VALUES (1, 'one'), (2, 'two')");
        try (AnnalsContext.Scope ignored = AnnalsContext.with(Map.of("request_id", "move"))) {
            run(app, "UPDATE items SET id = 10 WHERE id = 1");
            run(app, "UPDATE items SET v = 'deux' WHERE id = 2");
        }
        try (AnnalsContext.Scope ignored = AnnalsContext.with(Map.of("request_id", "other"))) {
            run(app, "INSERT INTO items VALUES (1, 'a new one')");
        }
        db.sync();
        List<String> now = db.rows(ITEMS);

        RevertPlan failing = db.trail.revert(db.trail.changes().contextContains(Map.of("request_id", "move"))).plan();
        assertThat(failing.conflicts()).singleElement().satisfies(c -> {
            assertThat(c.kind()).isEqualTo(RevertPlan.ConflictKind.CHANGED_LATER);
            assertThat(c.change().primaryKey().get("id").asLong()).isEqualTo(10);
        });
        assertThatThrownBy(failing::apply).isInstanceOf(RevertConflictException.class)
                .hasMessageContaining("nothing was written");
        assertThat(db.rows(ITEMS)).isEqualTo(now);

        RevertPlan.Outcome skipped = db.trail.revert(db.trail.changes().contextContains(Map.of("request_id", "move")))
                .onConflict(ConflictPolicy.SKIP).plan().apply();
        assertThat(skipped.applied()).isEqualTo(1);
        assertThat(skipped.skipped()).hasSize(1);
        assertThat(db.rows("SELECT id, v FROM items ORDER BY id")).containsExactly("1 | a new one", "2 | two", "10 | one");
    }

    private static void run(DataSource ds, String sql) throws SQLException {
        try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
