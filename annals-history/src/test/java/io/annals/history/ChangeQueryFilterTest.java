package io.annals.history;

import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.history.timetravel.Instants;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Objects;

import static org.assertj.core.api.Assertions.assertThat;

/** Every filter of {@link ChangeQuery}, alone and combined, against the known fixture. */
class ChangeQueryFilterTest extends HistoryTestSupport {

    static String url;
    static AuditTrail trail;

    @BeforeAll
    static void fixtureLog() {
        url = fixtureChangeLog("history_filters");
        trail = AuditTrail.of(url);
    }

    private static List<String> run(ChangeQuery q) {
        return positionsOf(q.list());
    }

    @Test
    void everyChangeInPositionOrderAscendingByDefaultAndDescendingOnRequest() {
        List<String> all = positions(r -> true);
        assertThat(run(trail.changes())).containsExactlyElementsOf(all);
        assertThat(run(trail.changes().ascending())).containsExactlyElementsOf(all);
        assertThat(run(trail.changes().descending())).containsExactlyElementsOf(all.reversed());
        assertThat(run(trail.changes().descending().ascending())).containsExactlyElementsOf(all);
    }

    @Test
    void changesCarryEveryStoredField() {
        Change update = trail.changes().table("orders").transaction(102).list().get(0);
        Row row = fixture().get(4);
        assertThat(update.position()).isEqualTo(row.position());
        assertThat(update.transactionId()).isEqualTo(102);
        assertThat(update.committedAt()).isEqualTo(T0.plusSeconds(2 * 3600));
        assertThat(update.database()).isEqualTo(url.substring(url.lastIndexOf('/') + 1, url.indexOf('?')));
        assertThat(update.schema()).isEqualTo("public");
        assertThat(update.table()).isEqualTo("orders");
        assertThat(update.qualifiedTable()).isEqualTo("public.orders");
        assertThat(update.operation()).isEqualTo(Operation.UPDATE);
        assertThat(update.primaryKey()).isEqualTo(json("{\"id\": 2}"));
        assertThat(update.before()).isEqualTo(json(row.before()));
        assertThat(update.after()).isEqualTo(json(row.after()));
        assertThat(update.changedColumns()).containsExactly("status", "amount");
        assertThat(update.context()).isEqualTo(json("{\"user_id\": 42, \"endpoint\": \"/pay\"}"));
        assertThat(update.id()).isPositive();
    }

    @Test
    void tableFilterTakesABareNameAsSchemaPublicAndQualifiedNamesExactly() {
        List<String> publicOrders = positions(r -> r.schema().equals("public") && r.table().equals("orders"));
        assertThat(publicOrders).hasSize(5);
        assertThat(run(trail.changes().table("orders"))).containsExactlyElementsOf(publicOrders);
        assertThat(run(trail.changes().table("public.orders"))).containsExactlyElementsOf(publicOrders);
        assertThat(run(trail.changes().table("\"public\".\"orders\""))).containsExactlyElementsOf(publicOrders);
        assertThat(run(trail.changes().table("shop.orders")))
                .containsExactlyElementsOf(positions(r -> r.schema().equals("shop")));
        assertThat(run(trail.changes().table("shop.orders").table("public.customers")))
                .as("a later table() replaces the earlier one")
                .containsExactlyElementsOf(positions(r -> r.table().equals("customers")));
    }

    @Test
    void tablesFilterMatchesAnyOfThem() {
        assertThat(run(trail.changes().tables("shop.orders", "customers")))
                .containsExactlyElementsOf(positions(r -> r.schema().equals("shop") || r.table().equals("customers")));
        assertThat(run(trail.changes().tables(List.of("line_items", "line_items"))))
                .containsExactlyElementsOf(positions(r -> r.table().equals("line_items")));
    }

    @Test
    void aTableOnlyInTheCatalogIsKnownAndHasNoChanges() {
        String other = newChangeLog("history_catalog");
        TestPostgres.execute(other, "CREATE TABLE public.quiet (id int PRIMARY KEY)");
        assertThat(AuditTrail.of(other).changes().table("quiet").list()).isEmpty();
    }

    @Test
    void primaryKeyFilterGivesOneRowsHistory() {
        assertThat(run(trail.changes().table("orders").primaryKey(Map.of("id", 1))))
                .containsExactlyElementsOf(positions(r -> r.table().equals("orders") && r.schema().equals("public")
                        && "{\"id\": 1}".equals(r.primaryKey())));
        assertThat(trail.history("orders", Map.of("id", 1)).list()).extracting(Change::operation)
                .containsExactly(Operation.CREATE, Operation.UPDATE, Operation.DELETE);
        assertThat(trail.history("orders", Map.of("id", 1L)).descending().list()).extracting(Change::operation)
                .containsExactly(Operation.DELETE, Operation.UPDATE, Operation.CREATE);
        assertThat(trail.history("shop.orders", Map.of("id", 1)).list()).extracting(Change::operation)
                .containsExactly(Operation.CREATE);
        assertThat(trail.history("orders", Map.of("id", 3)).list()).isEmpty();
        assertThat(trail.history("orders", Map.of("id", "1")).list()).as("a string is not the integer key").isEmpty();
    }

    @Test
    void compositePrimaryKeysMatchWhateverTheMapOrder() {
        assertThat(trail.history("line_items", Map.of("line", 1, "order_id", 2)).list()).hasSize(1);
        assertThat(trail.history("line_items", Map.of("order_id", 2)).list()).as("all key columns are needed").isEmpty();
        assertThat(trail.changes().primaryKey(Map.of("id", 1)).list()).as("without a table: every table's row 1")
                .extracting(Change::qualifiedTable)
                .containsExactly("public.orders", "public.orders", "public.customers", "public.orders", "shop.orders");
    }

    @Test
    void operationsFilter() {
        assertThat(run(trail.changes().operations(Operation.UPDATE)))
                .containsExactlyElementsOf(positions(r -> r.operation() == Operation.UPDATE));
        assertThat(run(trail.changes().operations(Operation.DELETE, Operation.TRUNCATE, Operation.DELETE)))
                .containsExactlyElementsOf(positions(r -> r.operation() == Operation.DELETE
                        || r.operation() == Operation.TRUNCATE));
        assertThat(run(trail.changes().operations(Operation.SNAPSHOT)))
                .containsExactlyElementsOf(positions(r -> r.operation() == Operation.SNAPSHOT));
    }

    @Test
    void timeRangeIsFromInclusiveToExclusive() {
        assertThat(trail.changes().between(T0.plusSeconds(3600), T0.plusSeconds(3 * 3600)).list())
                .extracting(Change::transactionId).containsExactly(101L, 101L, 102L);
        assertThat(trail.changes().since(T0.plusSeconds(3 * 3600)).list())
                .extracting(Change::transactionId).containsExactly(103L, 103L, 104L, 104L, 104L);
        assertThat(trail.changes().until(T0.plusSeconds(1)).list())
                .extracting(Change::transactionId).containsExactly(100L, 100L);
        assertThat(trail.changes().between(Instants.parse("2026-11-01 11:30"), Instants.parse("2026-11-01T12:30:00Z"))
                .list()).extracting(Change::transactionId).containsExactly(102L);
        assertThat(trail.changes().between(T0, T0).list()).isEmpty();
    }

    @Test
    void positionRangeIsExclusiveAtBothEnds() {
        List<String> all = positions(r -> true);
        Position third = Position.parse(all.get(2));
        Position seventh = Position.parse(all.get(6));
        assertThat(run(trail.changes().after(third))).containsExactlyElementsOf(all.subList(3, all.size()));
        assertThat(run(trail.changes().before(third))).containsExactlyElementsOf(all.subList(0, 2));
        assertThat(run(trail.changes().after(third).before(seventh))).containsExactlyElementsOf(all.subList(3, 6));
        assertThat(run(trail.changes().after(third).before(seventh).descending()))
                .containsExactlyElementsOf(all.subList(3, 6).reversed());
    }

    @Test
    void transactionFilter() {
        assertThat(run(trail.changes().transaction(103))).containsExactlyElementsOf(positions(r -> r.xid() == 103));
        assertThat(trail.changes().transaction(999).list()).isEmpty();
    }

    @Test
    void contextContainmentMatchesSubsetsAndSeveralCallsMustAllHold() {
        assertThat(run(trail.changes().contextContains(Map.of("user_id", 42))))
                .containsExactlyElementsOf(positions(r -> r.context().contains("\"user_id\": 42")));
        assertThat(trail.changes().contextContains(Map.of("user_id", 42, "endpoint", "/pay")).list())
                .extracting(Change::transactionId).containsExactly(102L);
        assertThat(trail.changes().contextContains(Map.of("user_id", 42)).contextContains(Map.of("endpoint", "/orders"))
                .list()).extracting(Change::transactionId).containsExactly(100L);
        assertThat(trail.changes().contextContains(Map.of("user_id", "42")).list()).as("typed: \"42\" is not 42").isEmpty();
        assertThat(trail.changes().contextContains(Map.of("user_id", 7)).list()).hasSize(1);
    }

    @Test
    void changedColumnFilter() {
        assertThat(run(trail.changes().changedColumn("amount")))
                .containsExactlyElementsOf(positions(r -> r.changedColumns() != null && r.changedColumns().contains("amount")));
        assertThat(trail.changes().changedColumn("status").changedColumn("amount").operations(Operation.UPDATE).list())
                .extracting(Change::transactionId).containsExactly(102L);
        assertThat(trail.changes().changedColumn("nope").list()).isEmpty();
    }

    @Test
    void equalityPredicatesCompareTypedJsonValues() {
        assertThat(trail.changes().where(Image.AFTER, "status", "=", "paid").list())
                .extracting(Change::qualifiedTable, Change::transactionId)
                .containsExactly(org.assertj.core.api.Assertions.tuple("public.orders", 101L),
                        org.assertj.core.api.Assertions.tuple("public.orders", 102L),
                        org.assertj.core.api.Assertions.tuple("shop.orders", 103L));
        assertThat(trail.changes().table("orders").where(Image.AFTER, "status", "<>", "paid").list())
                .extracting(Change::transactionId).containsExactly(100L, 100L);
        assertThat(trail.changes().where(Image.AFTER, "amount", "=", 10.5).list()).hasSize(2);
        assertThat(trail.changes().where(Image.AFTER, "amount", "=", "10.50").list()).as("a string is not a number").isEmpty();
        assertThat(trail.changes().where(Image.AFTER, "note", "=", null).list()).as("SQL NULL is JSON null")
                .extracting(Change::transactionId).containsExactly(100L, 101L);
        assertThat(trail.changes().where(Image.BEFORE, "amount", "=", 99).list())
                .extracting(Change::transactionId).containsExactly(102L);
        assertThat(trail.changes().where(Image.BEFORE, "status", "=", "new").list())
                .as("a key-only before image is completed from the row's previous image")
                .extracting(Change::transactionId).containsExactly(101L, 102L);
    }

    @Test
    void orderingPredicatesCompareNumbersNumericallyAndOnlyValuesOfTheSameType() {
        assertThat(trail.changes().where(Image.AFTER, "amount", ">", 50).list())
                .extracting(c -> c.after().get("amount").decimalValue().intValue()).containsExactly(99, 120);
        assertThat(trail.changes().where(Image.AFTER, "amount", ">=", 100).list()).hasSize(1);
        assertThat(trail.changes().where(Image.AFTER, "amount", "<", 11).list()).hasSize(2);
        assertThat(trail.changes().where(Image.AFTER, "amount", "<=", 10.5).where(Image.AFTER, "status", "=", "new")
                .list()).extracting(Change::transactionId).containsExactly(100L);
        assertThat(trail.changes().where(Image.AFTER, "note", ">", 5).list())
                .as("a string column never orders against a number").isEmpty();
        assertThat(trail.changes().where(Image.AFTER, "amount", ">", "1").list())
                .as("a number column never orders against a string").isEmpty();
        assertThat(trail.changes().table("orders").where(Image.AFTER, "status", ">", "new").list())
                .extracting(Change::transactionId).containsExactly(101L, 102L);
    }

    @Test
    void namesAndValuesAreBoundNeverSpliced() {
        String evil = "status' OR true --\"; DROP TABLE annals.changes; --";
        assertThat(trail.changes().where(Image.AFTER, evil, "=", "paid").list()).isEmpty();
        assertThat(trail.changes().where(Image.AFTER, "status", "=", evil).list()).isEmpty();
        assertThat(trail.changes().changedColumn(evil).list()).isEmpty();
        assertThat(trail.changes().changedColumn("a\"b}").changedColumn("c,d").list()).isEmpty();
        assertThat(trail.changes().contextContains(Map.of(evil, evil)).list()).isEmpty();
        assertThat(trail.changes().list()).hasSize(fixture().size());
    }

    @Test
    void limitCapsTheResultInEitherOrder() {
        List<String> all = positions(r -> true);
        assertThat(run(trail.changes().limit(3))).containsExactlyElementsOf(all.subList(0, 3));
        assertThat(run(trail.changes().descending().limit(2)))
                .containsExactly(all.get(all.size() - 1), all.get(all.size() - 2));
    }

    @Test
    void filtersCombineWithAnd() {
        List<Change> found = trail.changes()
                .table("orders")
                .operations(Operation.UPDATE, Operation.CREATE)
                .contextContains(Map.of("user_id", 42))
                .changedColumn("status")
                .where(Image.AFTER, "amount", ">", 50)
                .between(T0, T0.plusSeconds(86_400))
                .descending()
                .list();
        assertThat(found).extracting(Change::transactionId, c -> c.primaryKey().get("id").asInt())
                .containsExactly(org.assertj.core.api.Assertions.tuple(102L, 2), org.assertj.core.api.Assertions.tuple(100L, 2));
    }

    @Test
    void queriesAreImmutable() {
        ChangeQuery base = trail.changes().table("orders");
        ChangeQuery narrowed = base.operations(Operation.DELETE);
        base.descending().limit(1).where(Image.AFTER, "status", "=", "paid");
        assertThat(base.list()).hasSize(5);
        assertThat(narrowed.list()).hasSize(1);
        assertThat(Objects.requireNonNull(base.toString())).contains("orders");
    }
}
