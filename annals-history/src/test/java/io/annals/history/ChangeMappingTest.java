package io.annals.history;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.node.NullNode;
import io.annals.changelog.Operation;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Typed views of the images through Jackson, and each change's diff. */
class ChangeMappingTest extends HistoryTestSupport {

    record Order(long id, String status, BigDecimal amount) {
    }

    record OrderKey(long id) {
    }

    record Context(Integer userId, String endpoint) {
    }

    record LineItem(int orderId, int lineNumber, String sku) {
    }

    static AuditTrail trail;

    @BeforeAll
    static void fixtureLog() {
        trail = AuditTrail.of(fixtureChangeLog("history_mapping"));
    }

    private static Change change(long xid, Operation op) {
        return trail.changes().table("orders").transaction(xid).operations(op).list().get(0);
    }

    @Test
    void imagesMapToTheApplicationsRecordsIgnoringUnknownColumns() {
        Change update = change(102, Operation.UPDATE);
        assertThat(update.before(Order.class)).contains(new Order(2, "new", new BigDecimal("99")));
        assertThat(update.after(Order.class)).contains(new Order(2, "paid", new BigDecimal("120")));
        assertThat(update.primaryKey(OrderKey.class)).contains(new OrderKey(2));
    }

    @Test
    void missingImagesAreEmptyAndKeyOnlyBeforeImagesAreCompletedFromTheRowsPreviousImage() {
        Change delete = change(103, Operation.DELETE);
        assertThat(delete.after(Order.class)).isEmpty();
        assertThat(delete.before(Order.class)).as("stored as {\"id\": 1}; the row before was 101's after image")
                .contains(new Order(1, "paid", new BigDecimal("10.50")));
        Change create = change(100, Operation.CREATE);
        assertThat(create.before(Order.class)).isEmpty();
        Change truncate = trail.changes().operations(Operation.TRUNCATE).list().get(0);
        assertThat(truncate.primaryKey(OrderKey.class)).isEmpty();
        assertThat(truncate.primaryKey()).isNull();
    }

    @Test
    void aConfiguredObjectMapperIsUsedAndUnknownPropertiesAreStillIgnored() {
        ObjectMapper snake = new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);
        AuditTrail snakeTrail = trail.withObjectMapper(snake);
        Change line = snakeTrail.changes().table("line_items").list().get(0);
        assertThat(line.after(LineItem.class)).contains(new LineItem(2, 1, "A-1"));
        Change paid = snakeTrail.history("orders", Map.of("id", 2)).transaction(102).list().get(0);
        assertThat(paid.context(Context.class)).contains(new Context(42, "/pay"));
        assertThat(trail.history("orders", Map.of("id", 2)).transaction(102).list().get(0).context(Context.class))
                .as("the default mapper knows no snake case").contains(new Context(null, "/pay"));
    }

    @Test
    void anImageThatDoesNotFitTheTypeIsAClearError() {
        Change update = change(102, Operation.UPDATE);
        assertThatThrownBy(() -> update.after(Integer.class))
                .isInstanceOf(HistoryException.class)
                .hasMessageContaining("Could not map the after image of change " + update.position())
                .hasMessageContaining("public.orders")
                .hasMessageContaining("java.lang.Integer");
    }

    @Test
    void pagesMapToRecordsToo() {
        Page<Order> page = trail.changes().table("orders").operations(Operation.CREATE).page(1)
                .map(c -> c.after(Order.class).orElseThrow());
        assertThat(page.items()).containsExactly(new Order(1, "new", new BigDecimal("10.50")));
        assertThat(page.next()).isPresent();
        assertThat(page.next().get().page(5).items()).extracting(Change::operation).containsExactly(Operation.CREATE);
    }

    @Test
    void changesAreImmutableValues() {
        Change update = change(102, Operation.UPDATE);
        ((com.fasterxml.jackson.databind.node.ObjectNode) update.after()).put("status", "tampered");
        assertThat(update.after().get("status").asText()).isEqualTo("paid");
        assertThat(update).isEqualTo(change(102, Operation.UPDATE)).hasSameHashCodeAs(change(102, Operation.UPDATE));
        assertThat(update).isNotEqualTo(change(101, Operation.UPDATE));
        assertThat(update.toString()).contains("UPDATE public.orders").contains(update.position().toString());
    }

    @Test
    void diffOfAnUpdateWithAFullBeforeImageShowsOldAndNewValues() {
        assertThat(change(102, Operation.UPDATE).diff()).containsExactly(
                new ColumnChange("status", json("\"new\""), json("\"paid\"")),
                new ColumnChange("amount", json("99"), json("120")));
    }

    @Test
    void diffOfAnUpdateWithAKeyOnlyBeforeImageTakesTheOldValueFromTheRowsPreviousImage() {
        List<ColumnChange> diff = change(101, Operation.UPDATE).diff();
        assertThat(diff).containsExactly(new ColumnChange("status", json("\"new\""), json("\"paid\"")));
        assertThat(diff.get(0).oldValueKnown()).isTrue();
    }

    @Test
    void diffOfAnInsertHasNoOldValuesAndKeepsSqlNullApartFromAbsent() {
        List<ColumnChange> diff = change(100, Operation.CREATE).diff();
        assertThat(diff).extracting(ColumnChange::column).containsExactly("id", "status", "amount", "note");
        assertThat(diff).allSatisfy(d -> assertThat(d.oldValue()).isNull());
        assertThat(diff.get(3).newValue()).isEqualTo(NullNode.getInstance());
        assertThat(diff.get(2).newValue().decimalValue()).isEqualByComparingTo("10.50");
    }

    @Test
    void diffOfADeleteHasNoNewValues() {
        assertThat(change(103, Operation.DELETE).diff()).containsExactly(new ColumnChange("id", json("1"), null));
        assertThat(change(103, Operation.DELETE).diff().get(0).oldValueKnown()).isTrue();
    }

    @Test
    void diffOfATruncateIsEmptyAndOfASnapshotListsEveryColumn() {
        assertThat(trail.changes().operations(Operation.TRUNCATE).list().get(0).diff()).isEmpty();
        Change snapshot = trail.changes().operations(Operation.SNAPSHOT).list().get(0);
        assertThat(snapshot.changedColumns()).isEmpty();
        assertThat(snapshot.diff()).containsExactly(new ColumnChange("id", null, json("9")),
                new ColumnChange("name", null, json("\"Zed\"")));
    }
}
