package io.annals.history.timetravel;

import io.annals.changelog.Position;
import io.annals.history.AuditTrail;
import io.annals.history.HistoryTestSupport;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** A row as of a cut is served by the change log's per-row index, never by a scan of the log. */
class AsOfIndexTest extends HistoryTestSupport {

    static AuditTrail trail;
    static String url;

    /** 60,000 changes of 3,000 rows in three tables, analyzed, with a TRUNCATE of each table early on. */
    @BeforeAll
    static void bigLog() {
        url = newChangeLog("history_as_of_index");
        TestPostgres.execute(url,
                "SELECT annals.create_change_partitions('2026-11-01', '2026-11-02')",
                "INSERT INTO annals.changes (position, transaction_id, committed_at, database, \"schema\", \"table\","
                        + " operation, primary_key, before, after, changed_columns, context)"
                        + " SELECT upper(lpad(to_hex(g), 16, '0')) || '.00000000', g,"
                        + " timestamptz '2026-11-01' + g * interval '1 second', current_database(), 'public',"
                        + " (ARRAY['orders', 'customers', 'items'])[g % 3 + 1], 'UPDATE',"
                        + " jsonb_build_object('id', g % 1000), jsonb_build_object('id', g % 1000),"
                        + " jsonb_build_object('id', g % 1000, 'n', g), ARRAY['n'], '{}'::jsonb"
                        + " FROM generate_series(1, 60000) g",
                "INSERT INTO annals.changes (position, transaction_id, committed_at, database, \"schema\", \"table\","
                        + " operation, context) SELECT upper(lpad(to_hex(g), 16, '0')) || '.00000001', g,"
                        + " timestamptz '2026-11-01' + g * interval '1 second', current_database(), 'public',"
                        + " t, 'TRUNCATE', '{}'::jsonb FROM (VALUES (10, 'orders'), (11, 'customers'), (12, 'items')) v(g, t)",
                "ANALYZE annals.changes");
        trail = AuditTrail.of(url);
    }

    @Test
    void aRowAsOfACutUsesTheRowHistoryIndex() {
        // orders holds the changes with g % 3 == 0; id 7 last changed at or before 30000 by g = 29007
        AsOf asOf = trail.asOf(Position.of(30000, 0));
        assertThat(asOf.row("orders", Map.of("id", 7)).orElseThrow().get("n").asLong()).isEqualTo(29007);
        String plan = String.join("\n", asOf.explainRow("orders", Map.of("id", 7)));
        assertThat(plan).contains("Index Scan Backward using changes_row_history_idx").doesNotContain("Seq Scan")
                .doesNotContain("Sort");
        // whether an UPDATE moved the row to another key since: a probe of the key changes only
        assertThat(plan).contains("using changes_key_change_idx").doesNotContain("changes_position_key");
    }

    @Test
    void aTableReadFromAKeyframeMergesItsTwoKeyOrderedPartsWithoutASort() throws java.sql.SQLException {
        // Table items alone: the other tests read orders from the log, without a keyframe.
        AsOf asOf = trail.asOf(Position.of(45000, 0));
        List<String> fromTheLog;
        try (Stream<com.fasterxml.jackson.databind.JsonNode> rows = asOf.table("items")) {
            fromTheLog = rows.map(Object::toString).toList();
        }
        trail.keyframes().build("items", Position.of(30000, 0));
        List<String> plan = asOf.explainTable("items");
        String text = String.join("\n", plan);
        assertThat(text).as("read from the keyframe").contains("keyframe_rows");
        int version;
        try (java.sql.Connection c = TestPostgres.connect(url); java.sql.Statement s = c.createStatement();
             java.sql.ResultSet rs = s.executeQuery("SHOW server_version_num")) {
            rs.next();
            version = Integer.parseInt(rs.getString(1));
        }
        // A CTE's sort order is known to the planner from PostgreSQL 17 on; older servers sort, correctly.
        if (version >= 170000) {
            assertThat(text).contains("Merge Append");
            assertThat(plan.get(0)).as("the top of the plan: no sort of all the rows by their jsonb keys")
                    .doesNotStartWith("Sort").doesNotContain("Sort  (");
        }
        try (Stream<com.fasterxml.jackson.databind.JsonNode> rows = asOf.table("items")) {
            assertThat(rows.map(Object::toString).toList()).as("the same rows, in the same order, as from the log")
                    .hasSize(1000).isEqualTo(fromTheLog);
        }
    }

    @Test
    void aBigTableAsOfACutStreamsEveryLiveRow() {
        try (Stream<com.fasterxml.jackson.databind.JsonNode> rows = trail.asOf(Position.of(60000, 0)).fetchSize(100)
                .table("orders")) {
            assertThat(rows.count()).isEqualTo(1000);
        }
    }
}
