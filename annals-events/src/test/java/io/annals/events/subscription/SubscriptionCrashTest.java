package io.annals.events.subscription;

import io.annals.events.EventData;
import io.annals.events.EventStore;
import io.annals.events.ExpectedVersion;
import io.annals.events.GlobalPosition;
import io.annals.events.RecordedEvent;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A subscription that crashes at every stage of a batch (first batch and a later one), then
 * restarts: exactly-once mode leaves every event's effect exactly once; at-least-once mode
 * delivers every event, repeating at most the batch that was in flight. The crash is an
 * {@link Error} thrown from the stage hook: nothing else runs, the connection closes and its
 * transaction rolls back, as when the process is killed.
 */
class SubscriptionCrashTest {

    static final int EVENTS = 40;
    static final int BATCH = 7;

    /** Thrown at the crash point; an Error so that no handler or retry logic catches it. */
    static final class SimulatedCrash extends Error {
        SimulatedCrash(Subscription.Stage stage) {
            super("simulated crash at " + stage);
        }
    }

    static Stream<Arguments> crashes() {
        List<Arguments> cases = new ArrayList<>();
        for (boolean transactional : new boolean[]{true, false}) {
            for (Subscription.Stage stage : Subscription.Stage.values()) {
                if (!transactional && stage == Subscription.Stage.AFTER_COMMIT) continue; // no commit stage in that mode
                for (int occurrence : new int[]{1, 3}) {
                    cases.add(Arguments.of(transactional, stage, occurrence));
                }
            }
        }
        return cases.stream();
    }

    static String url;
    static EventStore store;
    static final AtomicInteger cases = new AtomicInteger();

    @BeforeAll
    static void setUp() {
        // One database for all cases (migrating costs more than a case): each case has its own
        // subscription and table, and expects every event in the store, its own and earlier ones.
        url = TestPostgres.newDatabase("events_crash");
        store = EventStore.at(url);
        store.migrate();
    }

    @AfterAll
    static void tearDown() {
        store.close();
    }

    @ParameterizedTest(name = "transactional={0} crash at {1} #{2}")
    @MethodSource("crashes")
    void restartsAfterACrashAtAnyStageWithoutLosingOrDuplicatingEffects(boolean transactional, Subscription.Stage stage,
                                                                       int occurrence) throws Exception {
        int n = cases.incrementAndGet();
        String name = "crashy-" + n;
        String table = "projected_" + n;
        TestPostgres.execute(url, "CREATE TABLE " + table + " (event_id uuid PRIMARY KEY)");
        for (int i = 0; i < EVENTS; i++) {
            store.append("counter" + n + "-" + (i % 3), ExpectedVersion.any(), EventData.of("Counted", "{\"i\":" + i + "}"));
        }
        // readAll shows only what no open transaction can still precede (see EventStore): another
        // transaction on the shared server may hide the newest events for a moment, so wait for them.
        List<RecordedEvent> all = new ArrayList<>();
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10)).until(() -> {
            all.clear();
            store.readAll().forEach(all::add);
            return all.stream().filter(e -> e.streamId().startsWith("counter" + n + "-")).count() == EVENTS;
        });
        List<UUID> expected = all.stream().map(RecordedEvent::eventId).toList();
        GlobalPosition last = all.getLast().globalPosition();

        List<RecordedEvent> delivered = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger reached = new AtomicInteger();
        Subscription.CrashPoint crash = s -> {
            if (s == stage && reached.incrementAndGet() == occurrence) throw new SimulatedCrash(s);
        };

        Subscription crashed = start(name, table, transactional, delivered, crash);
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(10))
                .until(() -> crashed.state() == Subscription.State.FAILED);
        assertThat(crashed.failure()).containsInstanceOf(SimulatedCrash.class);
        crashed.close();

        try (Subscription restarted = start(name, table, transactional, delivered, s -> { })) {
            assertThat(restarted.awaitCheckpoint(last, Duration.ofSeconds(20))).isTrue();
        }
        assertThat(Subscription.checkpointOf(store, name)).contains(last);

        Set<UUID> distinct = new HashSet<>();
        delivered.forEach(e -> distinct.add(e.eventId()));
        assertThat(distinct).containsExactlyInAnyOrderElementsOf(expected);
        Map<UUID, Long> counts = delivered.stream().collect(Collectors.groupingBy(RecordedEvent::eventId, Collectors.counting()));
        // Only the batch in flight at the crash can be delivered twice.
        assertThat(counts.values().stream().filter(c -> c > 1).count()).isLessThanOrEqualTo(BATCH);
        if (transactional) {
            assertThat(projectedIds(table)).containsExactlyInAnyOrderElementsOf(expected); // primary key: no effect twice
        }
    }

    private static Subscription start(String name, String table, boolean transactional, List<RecordedEvent> delivered,
                                      Subscription.CrashPoint crash) {
        Subscription.Builder b = Subscription.to(store, name).batchSize(BATCH).pollInterval(Duration.ofMillis(200)).crashPoint(crash);
        if (!transactional) return b.start(delivered::add);
        return b.startTransactional((e, c) -> {
            delivered.add(e);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table + " (event_id) VALUES (?)")) {
                ps.setObject(1, e.eventId());
                ps.executeUpdate();
            }
        });
    }

    static List<UUID> projectedIds(String table) throws Exception {
        List<UUID> ids = new ArrayList<>();
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT event_id FROM " + table)) {
            while (rs.next()) ids.add(rs.getObject(1, UUID.class));
        }
        return ids;
    }

}
