package io.annals.history.timetravel;

import io.annals.changelog.Position;
import io.annals.history.HistoryException;
import io.annals.history.LiveDatabase;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Diffs between two cuts and materialised copies, on live captured history. */
class DiffAndMaterializeTest {

    private static LiveDatabase db;
    private static Position first;
    private static Position second;

    @BeforeAll
    static void start() {
        db = LiveDatabase.create("diffmat",
                "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(8,2), tags text[],"
                        + " label text GENERATED ALWAYS AS (upper(name)) STORED)",
                "CREATE TABLE owners (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, item_id int REFERENCES items (id))",
                "INSERT INTO items (id, name, price, tags) VALUES (1, 'one', 1.10, '{a}'), (2, 'two', 2.20, NULL),"
                        + " (3, 'three', 3.30, '{}')",
                "INSERT INTO owners (item_id) VALUES (1), (2)");
        db.execute("UPDATE items SET price = 1.15 WHERE id = 1");
        db.sync();
        first = last();
        db.execute("UPDATE items SET name = 'uno', tags = '{a,b}' WHERE id = 1", "DELETE FROM owners WHERE item_id = 2",
                "DELETE FROM items WHERE id = 2", "INSERT INTO items (id, name, price) VALUES (4, 'four', 4.40)",
                "UPDATE items SET price = 9.99 WHERE id = 3", "UPDATE items SET price = 3.30 WHERE id = 3");
        db.sync();
        second = last();
    }

    private static Position last() {
        return db.trail.changes().descending().limit(1).list().get(0).position();
    }

    @AfterAll
    static void stop() {
        if (db != null) db.close();
    }

    @Test
    void aDiffListsRowsAddedRemovedAndChangedWithTheirColumnsAndIgnoresRowsChangedBack() {
        List<RowDiff> diff;
        try (Stream<RowDiff> rows = db.trail.diff("items", first, second)) {
            diff = rows.toList();
        }
        assertThat(diff).extracting(d -> d.kind() + " " + d.primaryKey())
                .containsExactly("CHANGED {\"id\":1}", "REMOVED {\"id\":2}", "ADDED {\"id\":4}");
        assertThat(diff.get(0).columns()).extracting(c -> c.column() + ": " + c.oldValue() + " -> " + c.newValue())
                .containsExactlyInAnyOrder("name: \"one\" -> \"uno\"", "tags: [\"a\"] -> [\"a\",\"b\"]");
        assertThat(diff.get(1).after()).isNull();
        assertThat(diff.get(1).before().get("price").decimalValue()).isEqualByComparingTo("2.20");
        assertThat(diff.get(2).before()).isNull();

        try (Stream<RowDiff> none = db.trail.diff("items", second, second)) {
            assertThat(none).isEmpty();
        }
        assertThatThrownBy(() -> db.trail.diff("items", second, first))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("swap");
    }

    @Test
    void materialisedTablesHoldTheRowsOfTheirCutWithLiveColumnsAndKeys() {
        Materialization.Result result = db.trail.asOf(first).materialize("items", "owners").into("past");
        assertThat(result.copies()).extracting(Materialization.Copy::target, Materialization.Copy::rows)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("past.items", 3L),
                        org.assertj.core.groups.Tuple.tuple("past.owners", 2L));
        assertThat(db.rows("SELECT id, name, price, tags, label FROM past.items ORDER BY id"))
                .containsExactly("1 | one | 1.15 | {a} | ONE", "2 | two | 2.20 | null | TWO", "3 | three | 3.30 | {} | THREE");
        assertThat(db.rows("SELECT count(*) FROM pg_constraint WHERE conrelid = 'past.items'::regclass AND contype = 'p'"))
                .containsExactly("1");

        assertThatThrownBy(() -> db.trail.asOf(second).materialize("items").into("past"))
                .isInstanceOf(HistoryException.class).hasMessageContaining("already exists");
        db.trail.asOf(second).materialize("items").replacingExisting().into("past");
        assertThat(db.rows("SELECT id, name FROM past.items ORDER BY id")).containsExactly("1 | uno", "3 | three", "4 | four");

        Materialization.Result all = db.trail.asOf(second).materializeAll().into("now_copy");
        assertThat(all.copies()).extracting(Materialization.Copy::source).containsExactly("public.items", "public.owners");
        assertThat(db.rows("(SELECT id, name, price FROM now_copy.items EXCEPT SELECT id, name, price FROM items)"
                + " UNION ALL (SELECT id, name, price FROM items EXCEPT SELECT id, name, price FROM now_copy.items)")).isEmpty();

        assertThatThrownBy(() -> db.trail.asOf(second).materialize("items").into("public"))
                .isInstanceOf(HistoryException.class).hasMessageContaining("replace the live table");
        assertThatThrownBy(() -> db.trail.asOf(second).materialize("nope").into("x"))
                .isInstanceOf(HistoryException.class).hasMessageContaining("Unknown table");
    }

    @Test
    void aDroppedTableIsRebuiltFromItsImages() {
        db.execute("CREATE TABLE gone (code text PRIMARY KEY, qty int, flag boolean, doc jsonb)",
                "INSERT INTO gone VALUES ('a', 1, true, '{\"k\": 1}'), ('b', NULL, false, NULL)");
        db.sync();
        Position cut = last();
        db.execute("DROP TABLE gone");
        db.trail.asOf(cut).materialize("gone").into("rebuilt");
        assertThat(db.rows("SELECT column_name || ' ' || data_type FROM information_schema.columns"
                + " WHERE table_schema = 'rebuilt' AND table_name = 'gone' ORDER BY column_name"))
                .containsExactly("code text", "doc jsonb", "flag boolean", "qty numeric");
        assertThat(db.rows("SELECT code, qty, flag, doc FROM rebuilt.gone ORDER BY code"))
                .containsExactly("a | 1 | t | {\"k\": 1}", "b | null | f | null");
    }
}
