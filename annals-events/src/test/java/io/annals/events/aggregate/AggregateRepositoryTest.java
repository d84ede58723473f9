package io.annals.events.aggregate;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.annals.events.EventData;
import io.annals.events.EventDeserializationException;
import io.annals.events.EventSerializationException;
import io.annals.events.EventStore;
import io.annals.events.EventTypes;
import io.annals.events.ExpectedVersion;
import io.annals.events.RecordedEvent;
import io.annals.events.UnknownEventTypeException;
import io.annals.events.Upcaster;
import io.annals.events.WrongExpectedVersionException;
import io.annals.events.aggregate.Bank.Account;
import io.annals.events.aggregate.Bank.AccountEvent;
import io.annals.events.aggregate.Bank.AccountOpened;
import io.annals.events.aggregate.Bank.MoneyDeposited;
import io.annals.events.aggregate.Bank.MoneyWithdrawn;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static io.annals.events.aggregate.Bank.money;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Loading, deciding with retries, snapshots and their invalidation, time travel, upcasting and typed errors. */
class AggregateRepositoryTest {

    static String url;
    static EventStore store;
    static final EventTypes<AccountEvent> types = EventTypes.of(AccountEvent.class).build();
    static AggregateRepository<Account, AccountEvent> accounts;

    @BeforeAll
    static void setUp() {
        url = TestPostgres.newDatabase("events_aggregates");
        store = EventStore.at(url);
        store.migrate();
        accounts = AggregateRepository.of(store, new Bank.Accounts(), types);
    }

    @AfterAll
    static void tearDown() {
        store.close();
    }

    private static String newId() {
        return UUID.randomUUID().toString();
    }

    private static void openAndMove(AggregateRepository<Account, AccountEvent> repo, String id) {
        repo.execute(id, a -> List.of(new AccountOpened("alice")));
        repo.execute(id, a -> List.of(new MoneyDeposited(money("50"))));
        repo.execute(id, a -> List.of(new MoneyDeposited(money("125"))));
        repo.execute(id, a -> List.of(new MoneyWithdrawn(money("75"))));
    }

    @Test
    void foldsEventsIntoStateAndRegistersTheSealedHierarchy() {
        assertThat(types.registered()).containsOnlyKeys("AccountOpened", "MoneyDeposited", "MoneyWithdrawn");
        String id = newId();
        assertThat(accounts.load(id).version()).isZero();
        openAndMove(accounts, id);
        Loaded<Account> a = accounts.load(id);
        assertThat(a.version()).isEqualTo(4);
        assertThat(a.state()).isEqualTo(new Account("alice", money("100"), 3));
        assertThat(a.snapshotVersion()).isZero();
        assertThat(store.readStream("account-" + id).toList()).extracting(RecordedEvent::type)
                .containsExactly("AccountOpened", "MoneyDeposited", "MoneyDeposited", "MoneyWithdrawn");
    }

    @Test
    void loadsAsOfAVersionAndAsOfAnInstant() throws Exception {
        String id = newId();
        accounts.execute(id, a -> List.of(new AccountOpened("bob"), new MoneyDeposited(money("10"))));
        Thread.sleep(20);
        Instant between = Instant.now();
        Thread.sleep(20);
        accounts.execute(id, a -> List.of(new MoneyDeposited(money("5"))));
        assertThat(accounts.loadAtVersion(id, 1).state()).isEqualTo(new Account("bob", BigDecimal.ZERO, 0));
        assertThat(accounts.loadAtVersion(id, 2).state().balance()).isEqualByComparingTo("10");
        assertThat(accounts.loadAtVersion(id, 99).version()).isEqualTo(3);
        Loaded<Account> then = accounts.loadAsOf(id, between);
        assertThat(then.version()).isEqualTo(2);
        assertThat(then.asOf()).isBefore(between);
        assertThat(accounts.loadAsOf(id, Instant.EPOCH).version()).isZero();
    }

    @Test
    void retriesConflictingDecisionsUntilTheyApplyToTheLatestState() throws Exception {
        String id = newId();
        accounts.execute(id, a -> List.of(new AccountOpened("carol")));
        AggregateRepository<Account, AccountEvent> patient = accounts.withRetries(1_000);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            done.add(pool.submit(() -> {
                for (int i = 0; i < 25; i++) patient.execute(id, a -> List.of(new MoneyDeposited(BigDecimal.ONE)));
            }));
        }
        for (Future<?> f : done) f.get();
        pool.shutdown();
        assertThat(accounts.load(id).state().balance()).isEqualByComparingTo("100");
        assertThat(accounts.load(id).version()).isEqualTo(101);

        Loaded<Account> stale = accounts.load(id);
        accounts.execute(id, a -> List.of(new MoneyDeposited(BigDecimal.ONE)));
        assertThatThrownBy(() -> accounts.append(stale, List.of(new MoneyWithdrawn(BigDecimal.ONE))))
                .isInstanceOfSatisfying(WrongExpectedVersionException.class, e -> assertThat(e.actualVersion()).isEqualTo(102));
        // A decision that appends nothing is not a conflict and writes nothing.
        assertThat(accounts.execute(id, a -> List.of()).version()).isEqualTo(102);
    }

    @Test
    void snapshotsEveryNEventsAndLoadsFromThem() {
        AggregateRepository<Account, AccountEvent> snapshotting = accounts.withSnapshots(SnapshotPolicy.everyEvents(3), 1);
        String id = newId();
        openAndMove(snapshotting, id);
        Loaded<Account> a = snapshotting.load(id);
        assertThat(a.snapshotVersion()).isEqualTo(3);
        assertThat(a.version()).isEqualTo(4);
        assertThat(a.state()).isEqualTo(accounts.load(id).state());
        // Time travel uses only snapshots from before the target.
        assertThat(snapshotting.loadAtVersion(id, 2).snapshotVersion()).isZero();
        assertThat(snapshotting.loadAtVersion(id, 2).state().balance()).isEqualByComparingTo("50");
        assertThat(snapshotting.loadAtVersion(id, 3).snapshotVersion()).isEqualTo(3);
    }

    @Test
    void aChangedStateShapeOrVersionInvalidatesOldSnapshotsAndLoadsReplay() {
        AggregateRepository<Account, AccountEvent> v1 = accounts.withSnapshots(SnapshotPolicy.everyEvents(2), 1);
        String id = newId();
        openAndMove(v1, id);
        assertThat(v1.load(id).snapshotVersion()).isEqualTo(4);

        // Same events, another state shape: the old snapshot is not read, the events are replayed.
        var slim = AggregateRepository.of(store, new Bank.SlimAccounts(), types).withSnapshots(SnapshotPolicy.everyEvents(2), 1);
        assertThat(slim.snapshotSchemaVersion()).isNotEqualTo(v1.snapshotSchemaVersion());
        Loaded<Bank.SlimAccount> s = slim.load(id);
        assertThat(s.snapshotVersion()).isZero();
        assertThat(s.state()).isEqualTo(new Bank.SlimAccount("alice", money("100")));

        // Same shape, new meaning (state version bumped): also replayed.
        var v2 = accounts.withSnapshots(SnapshotPolicy.everyEvents(2), 2);
        assertThat(v2.load(id).snapshotVersion()).isZero();

        // A snapshot that no longer reads (here: tampered with) is skipped, not fatal.
        TestPostgres.execute(url, "UPDATE annals.event_snapshots SET state = '{\"owner\": 42}' WHERE stream_id = 'account-" + id + "'");
        Loaded<Account> replayed = v1.load(id);
        assertThat(replayed.snapshotVersion()).isZero();
        assertThat(replayed.state()).isEqualTo(new Account("alice", money("100"), 3));
    }

    @Test
    void upcastersTurnOldEventsIntoCurrentOnesOnRead() {
        String id = newId();
        // Written by an older version of the application: a deposit in cents, under an old type name.
        store.append("account-" + id, ExpectedVersion.noStream(), EventData.of("AccountOpened", "{\"owner\":\"dan\"}"),
                EventData.of("DepositMade.v1", "{\"cents\":5050}"));
        EventTypes<AccountEvent> upcasting = EventTypes.of(AccountEvent.class)
                .upcast("DepositMade.v1", old -> new Upcaster.Event("MoneyDeposited",
                        JsonNodeFactory.instance.objectNode().put("amount", old.data().get("cents").decimalValue().movePointLeft(2))))
                .build();
        var repo = AggregateRepository.of(store, new Bank.Accounts(), upcasting);
        assertThat(repo.load(id).state().balance()).isEqualByComparingTo("50.50");
        // Without the upcaster, the old type is unknown: a clear error by default...
        assertThatThrownBy(() -> accounts.load(id)).isInstanceOf(UnknownEventTypeException.class)
                .hasMessageContaining("'DepositMade.v1'").hasMessageContaining("upcaster");
        // ...or skipped with a log line when asked.
        var skipping = AggregateRepository.of(store, new Bank.Accounts(),
                EventTypes.of(AccountEvent.class).onUnknownType(EventTypes.OnUnknownType.SKIP).build());
        Loaded<Account> partial = skipping.load(id);
        assertThat(partial.state().balance()).isEqualByComparingTo("0");
        assertThat(partial.version()).isEqualTo(2);
    }

    @Test
    void aMalformedPayloadIsAClearError() {
        String id = newId();
        store.append("account-" + id, ExpectedVersion.noStream(), EventData.of("MoneyDeposited", "{\"amount\":\"lots\"}"));
        assertThatThrownBy(() -> accounts.load(id)).isInstanceOfSatisfying(EventDeserializationException.class, e -> {
            assertThat(e.getMessage()).contains("account-" + id + "@1").contains("MoneyDeposited").contains("\"lots\"");
            assertThat(e.event().streamVersion()).isEqualTo(1);
        });
        String other = newId();
        store.append("account-" + other, ExpectedVersion.noStream(), EventData.of("MoneyDeposited", "{\"sum\":5}"));
        assertThatThrownBy(() -> accounts.load(other)).isInstanceOf(EventDeserializationException.class).hasMessageContaining("sum");
    }

    @Test
    void aDeletedAggregateCannotBeLoaded() {
        String id = newId();
        openAndMove(accounts, id);
        store.delete(accounts.streamId(id));
        assertThatThrownBy(() -> accounts.load(id)).isInstanceOf(io.annals.events.EventStoreException.class)
                .hasMessageContaining("was deleted");
    }

    sealed interface Odd permits WithInstant, Unregistered {
    }

    record WithInstant(Instant at) implements Odd {
    }

    static final class Unregistered implements Odd {
    }

    @Test
    void anEventThatCannotBeSerialisedIsAClearErrorAndNothingIsAppended() {
        EventTypes<Odd> odd = EventTypes.of(Odd.class).build();
        // Jackson's core cannot write java.time without a module: the error says what and how to fix.
        assertThatThrownBy(() -> odd.toEventData(new WithInstant(Instant.EPOCH)))
                .isInstanceOf(EventSerializationException.class).hasMessageContaining(WithInstant.class.getName())
                .hasMessageContaining("register a module");
        EventTypes<Odd> partial = EventTypes.of(Odd.class).build();
        assertThat(partial.registered()).containsKeys("WithInstant", "Unregistered");
        EventTypes<Object> objects = EventTypes.of(Object.class).build();
        assertThatThrownBy(() -> objects.typeOf("a string")).isInstanceOf(EventSerializationException.class)
                .hasMessageContaining("not registered");
    }
}
