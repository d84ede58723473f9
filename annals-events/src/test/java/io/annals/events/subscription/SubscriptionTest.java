package io.annals.events.subscription;

import io.annals.events.AppendResult;
import io.annals.events.EventData;
import io.annals.events.EventStore;
import io.annals.events.ExpectedVersion;
import io.annals.events.GlobalPosition;
import io.annals.events.RecordedEvent;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Live delivery, the polling fallback, handler failures, and one active instance per name. */
class SubscriptionTest {

    static String url;
    static EventStore store;

    @BeforeAll
    static void setUp() {
        url = TestPostgres.newDatabase("events_subscription");
        store = EventStore.at(url);
        store.migrate();
    }

    @AfterAll
    static void tearDown() {
        store.close();
    }

    private static GlobalPosition head() {
        List<RecordedEvent> all = new ArrayList<>();
        store.readAll().forEach(all::add);
        return all.isEmpty() ? GlobalPosition.START : all.getLast().globalPosition();
    }

    @Test
    void catchesUpThenFollowsLiveAppendsWokenByNotifications() throws Exception {
        store.append("live-1", ExpectedVersion.any(), EventData.of("Before", "{}"));
        List<RecordedEvent> seen = Collections.synchronizedList(new ArrayList<>());
        // A poll interval far longer than the wait below: only a notification can deliver in time.
        try (Subscription s = Subscription.to(store, "live").pollInterval(Duration.ofMinutes(5)).start(seen::add)) {
            await().atMost(Duration.ofSeconds(10)).until(() -> seen.stream().anyMatch(e -> e.type().equals("Before")));
            store.append("live-1", ExpectedVersion.any(), EventData.of("After", "{}"));
            await().atMost(Duration.ofSeconds(10)).until(() -> seen.stream().anyMatch(e -> e.type().equals("After")));
            assertThat(s.state()).isEqualTo(Subscription.State.RUNNING);
        }
    }

    @Test
    void anOpenTransactionDelaysDeliveryUntilItEndsEvenIfItNeverNotifies() throws Exception {
        List<RecordedEvent> seen = Collections.synchronizedList(new ArrayList<>());
        TestPostgres.execute(url, "CREATE TABLE IF NOT EXISTS unrelated (id int)");
        try (Subscription s = Subscription.to(store, "held-back").pollInterval(Duration.ofMinutes(5)).start(seen::add);
             Connection other = TestPostgres.connect(url)) {
            await().atMost(Duration.ofSeconds(10)).until(() -> s.state() == Subscription.State.RUNNING);
            other.setAutoCommit(false);
            try (Statement st = other.createStatement()) {
                st.executeUpdate("INSERT INTO unrelated VALUES (1)"); // takes an xid older than the append's
            }
            AppendResult r = store.append("held-1", ExpectedVersion.any(), EventData.of("Held", "{}"));
            Thread.sleep(300);
            assertThat(seen).noneMatch(e -> e.position() == r.firstPosition());
            other.commit(); // no NOTIFY: the subscription's short re-reads after the append's notification find it
            await().atMost(Duration.ofSeconds(10)).until(() -> seen.stream().anyMatch(e -> e.position() == r.firstPosition()));
        }
    }

    @Test
    void aFailingHandlerStopsTheSubscriptionAndTheEventIsRedeliveredOnRestart() throws Exception {
        store.append("fail-1", ExpectedVersion.any(), EventData.of("Fine", "{}"), EventData.of("Poison", "{}"), EventData.of("Fine", "{}"));
        GlobalPosition last = head();
        List<RecordedEvent> seen = Collections.synchronizedList(new ArrayList<>());
        Subscription failing = Subscription.to(store, "failing").start(e -> {
            if (e.type().equals("Poison")) throw new IllegalStateException("cannot handle poison");
            seen.add(e);
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> failing.state() == Subscription.State.FAILED);
        assertThat(failing.failure()).get().isInstanceOf(IllegalStateException.class);
        failing.close();
        GlobalPosition stoppedAt = Subscription.checkpointOf(store, "failing").orElseThrow();
        assertThat(seen.getLast().globalPosition()).isEqualTo(stoppedAt); // handled events are not redelivered

        List<RecordedEvent> again = Collections.synchronizedList(new ArrayList<>());
        try (Subscription fixed = Subscription.to(store, "failing").start(again::add)) {
            assertThat(fixed.awaitCheckpoint(last, Duration.ofSeconds(10))).isTrue();
        }
        assertThat(again.getFirst().type()).isEqualTo("Poison");
    }

    @Test
    void aSecondInstanceOfTheSameNameWaitsInStandbyAndTakesOver() throws Exception {
        List<RecordedEvent> first = Collections.synchronizedList(new ArrayList<>());
        List<RecordedEvent> second = Collections.synchronizedList(new ArrayList<>());
        Subscription a = Subscription.to(store, "single").pollInterval(Duration.ofMillis(100)).start(first::add);
        await().atMost(Duration.ofSeconds(10)).until(() -> a.state() == Subscription.State.RUNNING);
        try (Subscription b = Subscription.to(store, "single").pollInterval(Duration.ofMillis(100)).start(second::add)) {
            await().atMost(Duration.ofSeconds(10)).until(() -> b.state() == Subscription.State.STANDBY);
            a.close();
            store.append("single-1", ExpectedVersion.any(), EventData.of("AfterTakeOver", "{}"));
            await().atMost(Duration.ofSeconds(10)).until(() -> second.stream().anyMatch(e -> e.type().equals("AfterTakeOver")));
            assertThat(b.state()).isEqualTo(Subscription.State.RUNNING);
        }
        assertThat(first).noneMatch(e -> e.type().equals("AfterTakeOver"));
    }

    @Test
    void aNewSubscriptionCanStartAfterAGivenPositionUntilItHasACheckpoint() throws Exception {
        store.append("from-1", ExpectedVersion.any(), EventData.of("Old", "{}"));
        GlobalPosition now = head();
        store.append("from-1", ExpectedVersion.any(), EventData.of("New", "{}"));
        GlobalPosition last = head();
        List<RecordedEvent> seen = Collections.synchronizedList(new ArrayList<>());
        try (Subscription s = Subscription.to(store, "from-now").startingAfter(now).start(seen::add)) {
            assertThat(s.awaitCheckpoint(last, Duration.ofSeconds(10))).isTrue();
        }
        assertThat(seen).extracting(RecordedEvent::type).containsExactly("New");
        // With a checkpoint stored, the starting position no longer matters.
        try (Subscription s = Subscription.to(store, "from-now").startingAfter(GlobalPosition.START).start(seen::add)) {
            assertThat(s.awaitCheckpoint(last, Duration.ofSeconds(10))).isTrue();
        }
        assertThat(seen).hasSize(1);
    }

    @Test
    void survivesItsConnectionsBeingTerminatedAndCarriesOn() throws Exception {
        List<RecordedEvent> seen = Collections.synchronizedList(new ArrayList<>());
        try (Subscription s = Subscription.to(store, "resilient").pollInterval(Duration.ofMillis(200)).start(seen::add)) {
            store.append("resilient-1", ExpectedVersion.any(), EventData.of("BeforeOutage", "{}"));
            await().atMost(Duration.ofSeconds(10)).until(() -> seen.stream().anyMatch(e -> e.type().equals("BeforeOutage")));
            // Every other session of the database: the subscription's, the notifier's, the pool's.
            TestPostgres.execute(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    + " WHERE datname = current_database() AND pid <> pg_backend_pid()");
            await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> {
                store.append("resilient-1", ExpectedVersion.any(), EventData.of("AfterOutage", "{}"));
                return true;
            });
            await().atMost(Duration.ofSeconds(20)).until(() -> seen.stream().anyMatch(e -> e.type().equals("AfterOutage")));
            assertThat(s.state()).isEqualTo(Subscription.State.RUNNING);
        }
        assertThat(seen.stream().filter(e -> e.type().equals("BeforeOutage")).count()).isEqualTo(1);
    }

    @Test
    void resetReplaysFromTheStart() throws Exception {
        store.append("reset-1", ExpectedVersion.any(), EventData.of("Once", "{}"));
        GlobalPosition last = head();
        List<RecordedEvent> seen = Collections.synchronizedList(new ArrayList<>());
        try (Subscription s = Subscription.to(store, "resettable").start(seen::add)) {
            assertThat(s.awaitCheckpoint(last, Duration.ofSeconds(10))).isTrue();
        }
        int firstRun = seen.size();
        Subscription.reset(store, "resettable");
        assertThat(Subscription.checkpointOf(store, "resettable")).isEmpty();
        try (Subscription s = Subscription.to(store, "resettable").start(seen::add)) {
            assertThat(s.awaitCheckpoint(last, Duration.ofSeconds(10))).isTrue();
        }
        assertThat(seen).hasSizeGreaterThanOrEqualTo(2 * firstRun);
    }
}
