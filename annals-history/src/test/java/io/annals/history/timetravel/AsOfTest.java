package io.annals.history.timetravel;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.history.AuditTrail;
import io.annals.history.HistoryException;
import io.annals.history.HistoryTestSupport;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Rows and tables as of a position or an instant, replayed from the change log. */
class AsOfTest extends HistoryTestSupport {

    static String url;
    static AuditTrail trail;
    static List<Row> rows;

    /**
     * <pre>
     * tx1 @T0     CREATE orders 1 (new)
     * tx2 @T0+1h  UPDATE orders 1 (paid); CREATE orders 2 (new)
     * tx3 @T0+2h  DELETE orders 1; SNAPSHOT customers 9, 10; CREATE events (no primary key)
     * tx4 @T0+3h  CREATE orders 1 (again); UPDATE customers 9 (Zed 2)
     * tx5 @T0+4h  TRUNCATE orders; DELETE customers 10
     * tx6 @T0+5h  CREATE orders 3 (fresh); UPDATE orders 1 (resurrected by a later change, not by the truncate)
     * </pre>
     */
    @BeforeAll
    static void log() {
        Log log = new Log();
        log.tx().add("public.orders", Operation.CREATE, "{\"id\": 1}", null, order(1, "new"), null, "{}");
        log.tx().add("public.orders", Operation.UPDATE, "{\"id\": 1}", "{\"id\": 1}", order(1, "paid"), null, "{}")
                .add("public.orders", Operation.CREATE, "{\"id\": 2}", null, order(2, "new"), null, "{}");
        log.tx().add("public.orders", Operation.DELETE, "{\"id\": 1}", "{\"id\": 1}", null, null, "{}")
                .add("public.customers", Operation.SNAPSHOT, "{\"id\": 9}", null, "{\"id\": 9, \"name\": \"Zed\"}", null, "{}")
                .add("public.customers", Operation.SNAPSHOT, "{\"id\": 10}", null, "{\"id\": 10, \"name\": \"Ann\"}", null, "{}")
                .add("public.events", Operation.CREATE, null, null, "{\"what\": \"x\"}", null, "{}");
        log.tx().add("public.orders", Operation.CREATE, "{\"id\": 1}", null, order(1, "again"), null, "{}")
                .add("public.customers", Operation.UPDATE, "{\"id\": 9}", "{\"id\": 9}", "{\"id\": 9, \"name\": \"Zed 2\"}",
                        null, "{}");
        log.tx().add("public.orders", Operation.TRUNCATE, null, null, null, null, "{}")
                .add("public.customers", Operation.DELETE, "{\"id\": 10}", "{\"id\": 10}", null, null, "{}");
        log.tx().add("public.orders", Operation.CREATE, "{\"id\": 3}", null, order(3, "fresh"), null, "{}")
                .add("public.orders", Operation.UPDATE, "{\"id\": 1}", "{\"id\": 1}", order(1, "later"), null, "{}");
        rows = log.rows;
        url = newChangeLog("history_as_of");
        insert(url, rows);
        TestPostgres.execute(url, "CREATE TABLE public.invoices (id int PRIMARY KEY)");
        trail = AuditTrail.of(url);
    }

    static String order(int id, String status) {
        return "{\"id\": " + id + ", \"status\": \"" + status + "\"}";
    }

    static Position pos(int i) {
        return rows.get(i).position();
    }

    static Optional<String> status(AsOf asOf, int id) {
        return asOf.row("orders", Map.of("id", id)).map(r -> r.get("status").asText());
    }

    static List<JsonNode> table(AsOf asOf, String table) {
        try (Stream<JsonNode> s = asOf.table(table)) {
            return s.toList();
        }
    }

    @Test
    void aRowIsCreatedUpdatedDeletedAndRecreatedAtEveryPositionBetween() {
        // row index in the log -> status of orders 1 right after it (null: absent)
        String[] expected = {"new", "paid", "paid", null, null, null, null, "again", "again", null, null, null, "later"};
        assertThat(rows).hasSize(expected.length);
        for (int i = 0; i < rows.size(); i++) {
            AsOf asOf = trail.asOf(pos(i));
            assertThat(status(asOf, 1)).as("orders 1 as of %s", pos(i)).isEqualTo(Optional.ofNullable(expected[i]));
        }
        // a position between two changes (not itself in the log) sees the earlier one
        Position between = Position.of(pos(0).lsn(), pos(0).ordinal() + 5);
        assertThat(status(trail.asOf(between), 1)).contains("new");
    }

    @Test
    void aTruncateRemovesEveryRowChangedBeforeItButNotAfter() {
        int truncate = 9;
        assertThat(rows.get(truncate).operation()).isEqualTo(Operation.TRUNCATE);
        assertThat(table(trail.asOf(pos(truncate - 1)), "orders")).containsExactly(json(order(1, "again")),
                json(order(2, "new")));
        assertThat(status(trail.asOf(pos(truncate - 1)), 2)).contains("new");
        assertThat(table(trail.asOf(pos(truncate)), "orders")).isEmpty();
        assertThat(status(trail.asOf(pos(truncate)), 1)).isEmpty();
        assertThat(status(trail.asOf(pos(truncate)), 2)).isEmpty();
        assertThat(table(trail.asOf(pos(11)), "orders")).containsExactly(json(order(3, "fresh")));
        assertThat(table(trail.asOf(pos(12)), "orders")).containsExactly(json(order(1, "later")), json(order(3, "fresh")));
        assertThat(status(trail.asOf(pos(12)), 2)).isEmpty();
    }

    @Test
    void theTableAsOfEveryCutIsOrderedByPrimaryKey() {
        assertThat(table(trail.asOf(pos(0)), "public.orders")).containsExactly(json(order(1, "new")));
        assertThat(table(trail.asOf(pos(2)), "orders")).containsExactly(json(order(1, "paid")), json(order(2, "new")));
        assertThat(table(trail.asOf(pos(3)), "orders")).containsExactly(json(order(2, "new")));
        assertThat(table(trail.asOf(pos(7)), "orders")).containsExactly(json(order(1, "again")), json(order(2, "new")));
        assertThat(table(trail.asOf(pos(7)).fetchSize(1), "orders")).hasSize(2);
    }

    @Test
    void aSnapshotIsTheBaselineOfRowsThatExistedBeforeCaptureBegan() {
        Position snapshot = pos(4);
        assertThat(rows.get(4).operation()).isEqualTo(Operation.SNAPSHOT);
        assertThat(table(trail.asOf(pos(5)), "customers"))
                .containsExactly(json("{\"id\": 9, \"name\": \"Zed\"}"), json("{\"id\": 10, \"name\": \"Ann\"}"));
        assertThat(trail.asOf(pos(6)).row("customers", Map.of("id", 9))).contains(json("{\"id\": 9, \"name\": \"Zed\"}"));
        assertThat(trail.asOf(pos(8)).row("customers", Map.of("id", 9))).contains(json("{\"id\": 9, \"name\": \"Zed 2\"}"));
        assertThat(table(trail.asOf(pos(10)), "customers")).containsExactly(json("{\"id\": 9, \"name\": \"Zed 2\"}"));
        // any instant at or after the snapshot works; an earlier one does not
        assertThat(table(trail.asOf(T0.plusSeconds(2 * 3600)), "customers")).hasSize(2);
        assertThatThrownBy(() -> trail.asOf(T0.plusSeconds(2 * 3600 - 1)).row("customers", Map.of("id", 9)))
                .isInstanceOf(HistoryException.class)
                .hasMessageContaining("the change log for public.customers begins at " + snapshot
                        + " (committed " + T0.plusSeconds(2 * 3600) + "), with the snapshot of its rows taken when"
                        + " capture began; nothing is known before that");
    }

    @Test
    void anInstantCutIsTheLastPositionCommittedAtOrBeforeIt() {
        Instant tx2 = T0.plusSeconds(3600);
        AsOf atCommit = trail.asOf(tx2);
        assertThat(atCommit.position()).contains(pos(2));
        assertThat(atCommit.instant()).contains(tx2);
        assertThat(trail.asOf(tx2.plusSeconds(1799)).position()).contains(pos(2));
        assertThat(trail.asOf(tx2.minusNanos(1000)).position()).contains(pos(0));
        assertThat(trail.asOf(Instant.parse("2100-01-01T00:00:00Z")).position()).contains(pos(rows.size() - 1));
        for (int i = 0; i < rows.size(); i++) {
            Instant at = rows.get(i).committedAt();
            AsOf byInstant = trail.asOf(at);
            int last = i;
            while (last + 1 < rows.size() && rows.get(last + 1).committedAt().equals(at)) last++;
            AsOf byPosition = trail.asOf(pos(last));
            assertThat(byInstant.position()).contains(pos(last));
            assertThat(table(byInstant, "orders")).isEqualTo(table(byPosition, "orders"));
            assertThat(byInstant.row("orders", Map.of("id", 1))).isEqualTo(byPosition.row("orders", Map.of("id", 1)));
        }
        assertThat(trail.asOf(pos(2))).isEqualTo(trail.asOf(pos(2))).isNotEqualTo(atCommit);
    }

    record Order(long id, String status) {
    }

    @Test
    void aRowMapsToAJavaType() {
        assertThat(trail.asOf(pos(1)).row("orders", Map.of("id", 1), Order.class)).contains(new Order(1, "paid"));
        assertThat(trail.asOf(pos(3)).row("orders", Map.of("id", 1), Order.class)).isEmpty();
        assertThat(trail.asOf(pos(3)).row("orders", Map.of("id", 42), Order.class)).isEmpty();
    }

    @Test
    void askingBeforeTheTablesChangeLogBeginsIsAnError() {
        String message = "the change log for public.orders begins at " + pos(0) + " (committed " + T0
                + "); nothing is known before that";
        assertThatThrownBy(() -> trail.asOf(Position.of(pos(0).lsn() - 1, 0)).row("orders", Map.of("id", 1)))
                .isInstanceOf(HistoryException.class).hasMessageContaining(message);
        AsOf early = trail.asOf(T0.minusSeconds(1));
        assertThat(early.position()).isEmpty();
        assertThatThrownBy(() -> early.table("orders")).isInstanceOf(HistoryException.class)
                .hasMessageContaining(message).hasMessageContaining(T0.minusSeconds(1).toString());
        // customers begins with its snapshot in tx3: a cut in tx2 knows nothing of it
        assertThatThrownBy(() -> trail.asOf(pos(2)).table("customers").close()).isInstanceOf(HistoryException.class)
                .hasMessageContaining("the change log for public.customers begins at " + pos(4));
    }

    @Test
    void unknownAndKeylessTablesAreErrors() {
        AsOf now = trail.asOf(pos(rows.size() - 1));
        assertThatThrownBy(() -> now.row("orderz", Map.of("id", 1))).isInstanceOf(HistoryException.class)
                .hasMessageStartingWith("Unknown table 'public.orderz'");
        assertThatThrownBy(() -> now.table("nope.orders")).isInstanceOf(HistoryException.class)
                .hasMessageStartingWith("Unknown table 'nope.orders'");
        assertThatThrownBy(() -> now.row("events", Map.of("id", 1))).isInstanceOf(HistoryException.class)
                .hasMessageStartingWith("Cannot time-travel public.events: it has no primary key");
        assertThatThrownBy(() -> now.table("events")).isInstanceOf(HistoryException.class)
                .hasMessageStartingWith("Cannot time-travel public.events: it has no primary key");
        assertThatThrownBy(() -> now.table("invoices")).isInstanceOf(HistoryException.class)
                .hasMessageContaining("the change log holds no changes of it");
        assertThatThrownBy(() -> now.row("orders", Map.of())).isInstanceOf(IllegalArgumentException.class);
    }
}
