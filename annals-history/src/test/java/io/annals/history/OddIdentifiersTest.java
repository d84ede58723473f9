package io.annals.history;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.history.revert.RevertPlan;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Names that break naive quoting, through capture, history, time travel, materialisation and
 * revert: a schema and a table with spaces, double quotes, upper case and non-ASCII letters, and
 * columns named like keywords.
 */
class OddIdentifiersTest {

    private static final String SCHEMA = "My \"Schema\" ü";
    private static final String TABLE = "Tëst \"q\" Table";
    /** The table as SQL spells it, which is also how the trail's API takes it. */
    private static final String SQL = "\"My \"\"Schema\"\" ü\".\"Tëst \"\"q\"\" Table\"";
    private static LiveDatabase db;

    @BeforeAll
    static void start() {
        db = LiveDatabase.create("odd_identifiers",
                "CREATE SCHEMA \"My \"\"Schema\"\" ü\"",
                "CREATE TABLE " + SQL + " (\"Id\" int PRIMARY KEY, \"select\" text, \"Mixed Case\" numeric, \"from\" jsonb)",
                "INSERT INTO " + SQL + " VALUES (1, 'snap', 1.50, '{\"k\": 1}')");
    }

    @AfterAll
    static void stop() {
        if (db != null) db.close();
    }

    @Test
    void oddNamesSurviveCaptureHistoryTimeTravelMaterialisationAndRevert() {
        db.sync();
        Position start = db.trail.changes().table(SQL).descending().list().get(0).position();
        long xid = db.transaction(
                "UPDATE " + SQL + " SET \"select\" = 'it''s', \"Mixed Case\" = 2.50 WHERE \"Id\" = 1",
                "INSERT INTO " + SQL + " VALUES (2, 'two', 0.10, '[1, 2]')",
                "DELETE FROM " + SQL + " WHERE \"Id\" = 1");
        db.sync();

        List<Change> changes = db.trail.changes().table(SQL).transaction(xid).list();
        assertThat(changes).extracting(Change::operation)
                .containsExactly(Operation.UPDATE, Operation.CREATE, Operation.DELETE);
        assertThat(changes).allSatisfy(c -> {
            assertThat(c.schema()).isEqualTo(SCHEMA);
            assertThat(c.table()).isEqualTo(TABLE);
        });
        assertThat(changes.get(0).changedColumns()).containsExactlyInAnyOrder("select", "Mixed Case");
        assertThat(changes.get(0).after().get("Mixed Case").decimalValue()).isEqualByComparingTo("2.50");
        assertThat(db.trail.history(SQL, Map.of("Id", 1)).list()).hasSize(3);

        JsonNode then = db.trail.asOf(start).row(SQL, Map.of("Id", 1)).orElseThrow();
        assertThat(then.get("select").asText()).isEqualTo("snap");
        try (Stream<JsonNode> rows = db.trail.asOf(start).table(SQL)) {
            assertThat(rows).hasSize(1);
        }
        db.trail.asOf(start).materialize(SQL).into("As Of \"Start\"");
        assertThat(db.rows("SELECT t::text FROM \"As Of \"\"Start\"\"\".\"Tëst \"\"q\"\" Table\" t"))
                .containsExactly("(1,snap,1.50,\"{\"\"k\"\": 1}\")");

        List<String> now = db.rows("SELECT t::text FROM " + SQL + " t ORDER BY 1");
        RevertPlan.Outcome outcome = db.trail.revertTransaction(xid).plan().apply();
        assertThat(outcome.applied()).isEqualTo(3);
        assertThat(db.rows("SELECT t::text FROM " + SQL + " t ORDER BY 1")).containsExactly("(1,snap,1.50,\"{\"\"k\"\": 1}\")");
        db.sync();
        db.trail.revertTransaction(outcome.transactionId()).plan().apply();
        assertThat(db.rows("SELECT t::text FROM " + SQL + " t ORDER BY 1")).isEqualTo(now);
    }
}
