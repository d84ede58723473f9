package io.annals.history;

import io.annals.changelog.Operation;
import io.annals.history.timetravel.Instants;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Bad input gets a clear error that names the problem and the fix. */
class ErrorsTest extends HistoryTestSupport {

    static String url;
    static AuditTrail trail;

    @BeforeAll
    static void fixtureLog() {
        url = fixtureChangeLog("history_errors");
        TestPostgres.execute(url, "CREATE TABLE public.\"Invoices\" (id int PRIMARY KEY)");
        trail = AuditTrail.of(url);
    }

    @Test
    void anUnknownTableIsNamed() {
        assertThatThrownBy(() -> trail.changes().table("public.orderz").list())
                .isInstanceOf(HistoryException.class)
                .hasMessageStartingWith("Unknown table 'public.orderz': it has no changes in the change log and is not"
                        + " in the database's catalog");
        assertThatThrownBy(() -> trail.changes().tables("orders", "nope.orders").page(10))
                .isInstanceOf(HistoryException.class).hasMessageContaining("'nope.orders'");
        assertThatThrownBy(() -> trail.history("ghosts", Map.of("id", 1)).stream().close())
                .isInstanceOf(HistoryException.class).hasMessageContaining("'public.ghosts'");
    }

    @Test
    void anUnknownTableWithAKnownNameInAnotherCaseGetsASuggestion() {
        assertThatThrownBy(() -> trail.changes().table("invoices").list())
                .isInstanceOf(HistoryException.class)
                .hasMessageContaining("Unknown table 'public.invoices'")
                .hasMessageContaining("did you mean public.Invoices?");
        assertThat(trail.changes().table("Invoices").list()).isEmpty();
    }

    @Test
    void aTableNameWithQuotesIsAValueNotSql() {
        assertThatThrownBy(() -> trail.changes().table("orders' OR '1'='1").list())
                .isInstanceOf(HistoryException.class).hasMessageContaining("Unknown table");
    }

    @Test
    void aMalformedTableNameIsRejectedWhenGiven() {
        assertThatThrownBy(() -> trail.changes().table("a.b.c"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Not a table name: 'a.b.c'; use schema.table or table (schema public), e.g. public.orders;"
                        + " quote a part that holds a dot");
        assertThatThrownBy(() -> trail.changes().table(" ")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("A table name is required");
    }

    @Test
    void aMalformedInstantShowsAnExample() {
        assertThatThrownBy(() -> Instants.parse("yesterday"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("Not an instant: 'yesterday'; use e.g. 2026-11-23T10:15:30Z");
    }

    @Test
    void anUnsupportedOperatorListsTheSupportedOnes() {
        assertThatThrownBy(() -> trail.changes().where(Image.AFTER, "status", "LIKE", "p%"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Unsupported operator 'LIKE' in where(AFTER, \"status\", ...); use one of =, <>, <, <=, >, >=");
        assertThatThrownBy(() -> trail.changes().where(Image.AFTER, "status", "= 1 OR 1 =", "x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Unsupported operator");
        assertThatThrownBy(() -> trail.changes().where(Image.AFTER, "amount", ">", Map.of("a", 1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Operator > compares numbers, strings or booleans, not object");
        assertThatThrownBy(() -> trail.changes().where(Image.AFTER, "amount", "<", null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not null");
    }

    @Test
    void emptyOrInvertedArgumentsAreRejected() {
        Instant t = Instant.parse("2026-11-01T00:00:00Z");
        assertThatThrownBy(() -> trail.changes().between(t.plusSeconds(1), t))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("The time range is empty");
        assertThatThrownBy(() -> trail.changes().primaryKey(Map.of())).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> trail.changes().contextContains(Map.of())).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> trail.changes().operations()).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> trail.changes().limit(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> trail.changes().page(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> trail.changes().fetchSize(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> trail.changes().changedColumn("")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> trail.changes().operations(Operation.CREATE, null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void aBadCursorIsRejected() {
        assertThatThrownBy(() -> trail.changes().continueAfter("page-2"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Not a page cursor: 'page-2'; use the cursor() of a Page");
    }

    @Test
    void aDatabaseWithoutAChangeLogSaysHowToGetOne() {
        String empty = TestPostgres.newDatabase("history_nolog");
        assertThatThrownBy(() -> AuditTrail.of(empty).changes().list())
                .isInstanceOf(HistoryException.class)
                .hasMessageStartingWith("There is no change log (table annals.changes) in this database");
        assertThatThrownBy(() -> AuditTrail.of(empty).changes().table("orders").stream())
                .isInstanceOf(HistoryException.class)
                .hasMessageStartingWith("There is no change log (table annals.changes) in this database");
    }

    @Test
    void aNonPostgresUrlIsRejected() {
        assertThatThrownBy(() -> AuditTrail.of("jdbc:mysql://localhost/app"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("Not a PostgreSQL JDBC URL: 'jdbc:mysql://localhost/app'");
    }

    @Test
    void anUnreachableDatabaseIsAHistoryException() {
        assertThatThrownBy(() -> AuditTrail.of("jdbc:postgresql://127.0.0.1:1/none?connectTimeout=2").changes().list())
                .isInstanceOf(HistoryException.class)
                .hasMessageStartingWith("Could not connect to the change log's database");
    }
}
