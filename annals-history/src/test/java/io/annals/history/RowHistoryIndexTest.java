package io.annals.history;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** One row's history is served by the change log's per-row index, never by a scan of the log. */
class RowHistoryIndexTest extends HistoryTestSupport {

    static AuditTrail trail;

    /** 60,000 changes of 3,000 rows in three tables, analyzed, so that the planner has real statistics. */
    @BeforeAll
    static void bigLog() {
        String url = newChangeLog("history_index");
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
                "ANALYZE annals.changes");
        trail = AuditTrail.of(url);
    }

    private static String plan(ChangeQuery q) {
        return String.join("\n", q.explain());
    }

    @Test
    void oneRowsHistoryUsesTheRowHistoryIndexInBothOrders() {
        ChangeQuery history = trail.history("orders", Map.of("id", 7));
        assertThat(history.list()).hasSize(20).allSatisfy(c -> assertThat(c.table()).isEqualTo("orders"));
        assertThat(plan(history)).contains("changes_row_history_idx").doesNotContain("Seq Scan").doesNotContain("Sort");
        assertThat(plan(history.descending())).contains("Index Scan Backward using changes_row_history_idx")
                .doesNotContain("Sort");
        assertThat(plan(history.limit(5).operations(io.annals.changelog.Operation.UPDATE)))
                .contains("changes_row_history_idx").doesNotContain("Seq Scan");
    }

    @Test
    void keysetPagesOfOneRowsHistoryUseTheIndexToo() {
        ChangeQuery history = trail.history("customers", Map.of("id", 8));
        Page<Change> first = history.page(5);
        ChangeQuery next = first.next().orElseThrow();
        assertThat(plan(next.limit(6))).contains("changes_row_history_idx").doesNotContain("Seq Scan");
        List<Change> rest = next.list();
        assertThat(rest).hasSize(history.list().size() - 5);
        assertThat(rest.get(0).position()).isGreaterThan(first.items().get(4).position());
    }

    @Test
    void aPositionPageOfTheWholeLogUsesThePositionIndex() {
        assertThat(plan(trail.changes().limit(50))).contains("changes_position_key").doesNotContain("Sort");
    }
}
