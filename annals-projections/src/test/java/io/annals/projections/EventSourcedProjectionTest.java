package io.annals.projections;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.ChangeLog;
import io.annals.changelog.Json;
import io.annals.events.EventData;
import io.annals.events.EventStore;
import io.annals.events.ExpectedVersion;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** A read table folded from event-store streams, through the store's subscription. */
class EventSourcedProjectionTest {

    @Test
    void foldsEachStreamsEventsIntoItsReadRowExactlyOnceAcrossRestarts() {
        String url = TestPostgres.newDatabase("proj_events");
        PGSimpleDataSource ds = Captured.dataSource(url);
        EventStore store = EventStore.at(ds);
        store.migrate();
        ChangeLog log = ChangeLog.at(ds);
        log.migrate();
        TestPostgres.execute(url, "CREATE TABLE account_balance (canonical_type text NOT NULL, canonical_pk text NOT NULL,"
                + " balance numeric(12,2) NOT NULL, movements int NOT NULL)",
                "CREATE INDEX ON account_balance (canonical_type, canonical_pk)");
        Projection balances = Projection.named("account_balance").into("public.account_balance")
                .fromEvents("account", "account", (event, current) -> {
                    JsonNode data = Json.mapper().readTree(event.data());
                    BigDecimal balance = current.isEmpty() ? BigDecimal.ZERO : new BigDecimal(current.get(0).get("balance").toString());
                    int movements = current.isEmpty() ? 0 : ((Number) current.get(0).get("movements")).intValue();
                    if (event.type().equals("AccountClosed")) return List.of();
                    BigDecimal amount = new BigDecimal(data.get("amount").asText());
                    return List.of(Wave.row("balance", event.type().equals("Deposited") ? balance.add(amount) : balance.subtract(amount),
                            "movements", movements + 1));
                })
                .build();
        Projections projections = Projections.over(log).eventStore(store).pollInterval(Duration.ofMillis(100)).build();
        try (RunningProjection running = projections.start(balances)) {
            store.append("account-1", ExpectedVersion.noStream(), EventData.of("Deposited", "{\"amount\": \"100.00\"}"),
                    EventData.of("Withdrawn", "{\"amount\": \"30.50\"}"));
            store.append("account-2", ExpectedVersion.noStream(), EventData.of("Deposited", "{\"amount\": \"5\"}"));
            assertThat(running.awaitCaughtUp(Duration.ofSeconds(30))).isTrue();
            assertThat(TestPostgres.rows(url, "SELECT canonical_pk, balance, movements FROM account_balance ORDER BY 1"))
                    .containsExactly("account-1 | 69.50 | 2", "account-2 | 5.00 | 1");
        }
        // Events appended while it is stopped are folded once it is back, each once.
        store.append("account-1", ExpectedVersion.any(), EventData.of("Deposited", "{\"amount\": \"0.50\"}"));
        store.append("account-2", ExpectedVersion.any(), EventData.of("AccountClosed", "{}"));
        try (RunningProjection running = projections.start(balances)) {
            assertThat(running.awaitCaughtUp(Duration.ofSeconds(30))).isTrue();
            assertThat(TestPostgres.rows(url, "SELECT canonical_pk, balance, movements FROM account_balance ORDER BY 1"))
                    .containsExactly("account-1 | 70.00 | 3");
        }
        store.close();
        Captured.drop(url);
    }
}
