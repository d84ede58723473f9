package io.annals.events.subscription;

import io.annals.events.EventData;
import io.annals.events.EventStore;
import io.annals.events.ExpectedVersion;
import io.annals.events.RecordedEvent;
import io.annals.events.StreamOrderConflictException;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The bug event stores are known for: 8 writers append 10,000 committed events each, in
 * transactions of 1 to 20 events over one or two shared streams, held open for random times so
 * that they commit out of position order, with about one transaction in six rolled back; three
 * subscribers (two at-least-once, one exactly-once writing to a table) follow live. Each must
 * see every committed event exactly once, in the global order, stream versions gap-free and in
 * order, and no rolled-back event.
 */
class ConcurrentAppendTortureTest {

    static final int WRITERS = 8;
    static final int EVENTS_PER_WRITER = 10_000;
    static final int STREAMS = 24;

    @Test
    void everySubscriberSeesEveryCommittedEventExactlyOnceInGlobalOrder() throws Exception {
        String url = TestPostgres.newDatabase("events_torture");
        try (EventStore store = EventStore.at(url)) {
            store.migrate();
            TestPostgres.execute(url, "CREATE TABLE projected (event_id uuid PRIMARY KEY, seq bigserial)");

            List<RecordedEvent> first = Collections.synchronizedList(new ArrayList<>());
            List<RecordedEvent> second = Collections.synchronizedList(new ArrayList<>());
            List<RecordedEvent> third = Collections.synchronizedList(new ArrayList<>());
            Set<UUID> committed = Collections.synchronizedSet(new HashSet<>());
            Set<UUID> rolledBack = Collections.synchronizedSet(new HashSet<>());
            AtomicInteger orderConflicts = new AtomicInteger();

            try (Subscription a = Subscription.to(store, "torture-a").batchSize(250).pollInterval(Duration.ofMillis(300)).start(first::add);
                 Subscription b = Subscription.to(store, "torture-b").batchSize(64).pollInterval(Duration.ofMillis(300)).start(second::add);
                 Subscription c = Subscription.to(store, "torture-c").batchSize(500).pollInterval(Duration.ofMillis(300))
                         .startTransactional((e, connection) -> {
                             third.add(e);
                             try (PreparedStatement ps = connection.prepareStatement("INSERT INTO projected (event_id) VALUES (?)")) {
                                 ps.setObject(1, e.eventId());
                                 ps.executeUpdate();
                             }
                         })) {
                long t0 = System.nanoTime();
                ExecutorService writers = Executors.newFixedThreadPool(WRITERS);
                List<Future<?>> done = new ArrayList<>();
                for (int w = 0; w < WRITERS; w++) {
                    done.add(writers.submit(() -> write(url, store, committed, rolledBack, orderConflicts)));
                }
                for (Future<?> f : done) f.get();
                writers.shutdown();
                System.out.printf("writers done in %d ms, delivered %d/%d/%d%n", (System.nanoTime() - t0) / 1_000_000, first.size(), second.size(), third.size());

                int expected = WRITERS * EVENTS_PER_WRITER;
                assertThat(committed).hasSize(expected);
                await().atMost(Duration.ofSeconds(60)).until(() -> first.size() >= expected && second.size() >= expected
                        && third.size() >= expected);
                System.out.printf("all delivered after %d ms, %d rolled back, %d order conflicts%n", (System.nanoTime() - t0) / 1_000_000, rolledBack.size(), orderConflicts.get());
                // Anything delivered late would show up now.
                Thread.sleep(500);
                assertThat(a.failure()).isEmpty();
                assertThat(b.failure()).isEmpty();
                assertThat(c.failure()).isEmpty();
            }
            assertThat(rolledBack).isNotEmpty();
            List<RecordedEvent> reference = new ArrayList<>();
            store.readAll().forEach(reference::add);
            assertThat(reference).hasSize(WRITERS * EVENTS_PER_WRITER);
            for (List<RecordedEvent> seen : List.of(first, second, third)) {
                checkDelivery(seen, committed, rolledBack, reference);
            }
            try (Connection c = TestPostgres.connect(url); var s = c.createStatement();
                 var rs = s.executeQuery("SELECT count(*) FROM projected")) {
                rs.next();
                assertThat(rs.getLong(1)).isEqualTo(WRITERS * EVENTS_PER_WRITER);
            }
        }
    }

    private static void checkDelivery(List<RecordedEvent> seen, Set<UUID> committed, Set<UUID> rolledBack,
                                      List<RecordedEvent> reference) {
        // Plain loops collecting violations: per-event AssertJ calls over 80,000 events would dominate the run time.
        List<String> violations = new ArrayList<>();
        Set<UUID> ids = new HashSet<>();
        Map<String, Long> versions = new HashMap<>();
        for (int i = 0; i < seen.size() && violations.size() < 20; i++) {
            RecordedEvent e = seen.get(i);
            if (!ids.add(e.eventId())) violations.add("delivered twice: " + e);
            if (rolledBack.contains(e.eventId())) violations.add("rolled back but delivered: " + e);
            if (!committed.contains(e.eventId())) violations.add("never committed but delivered: " + e);
            if (i > 0 && e.globalPosition().compareTo(seen.get(i - 1).globalPosition()) <= 0) {
                violations.add("out of global order at " + i + ": " + seen.get(i - 1) + " then " + e);
            }
            long previous = versions.getOrDefault(e.streamId(), 0L);
            if (e.streamVersion() != previous + 1) violations.add("stream order: " + e.streamId() + " " + previous + " then " + e);
            versions.put(e.streamId(), e.streamVersion());
            if (i < reference.size() && !e.eventId().equals(reference.get(i).eventId())) {
                violations.add("differs from readAll at " + i + ": " + e + " vs " + reference.get(i));
            }
        }
        assertThat(violations).isEmpty();
        assertThat(seen).hasSize(committed.size());
        assertThat(ids).isEqualTo(committed);
    }

    private static void write(String url, EventStore store, Set<UUID> committed, Set<UUID> rolledBack, AtomicInteger orderConflicts) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        int written = 0;
        try (Connection c = TestPostgres.connect(url)) {
            c.setAutoCommit(false);
            while (written < EVENTS_PER_WRITER) {
                List<UUID> ids = new ArrayList<>();
                // Two streams in ascending order, as an application must to avoid deadlocks.
                int low = random.nextInt(STREAMS - 1);
                int[] streams = random.nextInt(4) == 0 ? new int[]{low, low + 1 + random.nextInt(STREAMS - 1 - low)} : new int[]{low};
                try {
                    for (int stream : streams) {
                        int n = Math.min(1 + random.nextInt(20), EVENTS_PER_WRITER - written - ids.size());
                        if (n <= 0) break;
                        List<EventData> events = new ArrayList<>(n);
                        for (int i = 0; i < n; i++) {
                            EventData e = EventData.of("Tortured", "{\"i\":" + i + "}");
                            events.add(e);
                            ids.add(e.eventId());
                        }
                        store.append(c, "torture-" + stream, ExpectedVersion.any(), events);
                        if (random.nextInt(8) == 0) Thread.sleep(1); // commit later than others that started later
                    }
                    if (random.nextInt(6) == 0) {
                        c.rollback();
                        rolledBack.addAll(ids);
                    } else {
                        c.commit();
                        committed.addAll(ids);
                        written += ids.size();
                    }
                } catch (StreamOrderConflictException e) {
                    c.rollback();
                    rolledBack.addAll(ids);
                    orderConflicts.incrementAndGet();
                }
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
