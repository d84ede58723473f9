package io.annals.events;

import io.annals.testkit.TestPostgres;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.sql.Connection;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The ordering rule as a property: for any interleaving of three writers' appends, commits and
 * rollbacks with a reader that reads a few events at a time from where it stopped, the reader
 * ends up with every committed event exactly once, in the final global order, and no rolled-back
 * one. The schedule runs on one thread over three connections, so jqwik can shrink a failure to
 * a minimal interleaving. (Writers append to streams of their own so no step waits on another's
 * stream lock; the transaction ids, which the rule is about, still interleave freely.)
 */
class GlobalOrderPropertyTest {

    static String url;
    static EventStore store;
    static final AtomicInteger tries = new AtomicInteger();

    sealed interface Step permits Append, Commit, Rollback, Read { }

    record Append(int writer, int stream, int events) implements Step { }

    record Commit(int writer) implements Step { }

    record Rollback(int writer) implements Step { }

    record Read(int maxCount) implements Step { }

    @BeforeContainer
    static void setUp() {
        url = TestPostgres.newDatabase("events_property");
        store = EventStore.at(url);
        store.migrate();
    }

    @AfterContainer
    static void tearDown() {
        store.close();
    }

    @Provide
    Arbitrary<List<Step>> schedules() {
        Arbitrary<Integer> writer = Arbitraries.integers().between(0, 2);
        Arbitrary<Step> append = Combinators.combine(writer, Arbitraries.integers().between(0, 1), Arbitraries.integers().between(1, 3))
                .as(Append::new);
        Arbitrary<Step> commit = writer.map(Commit::new);
        Arbitrary<Step> rollback = writer.map(Rollback::new);
        Arbitrary<Step> read = Arbitraries.integers().between(1, 4).map(Read::new);
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(4, append), net.jqwik.api.Tuple.of(3, commit),
                net.jqwik.api.Tuple.of(1, rollback), net.jqwik.api.Tuple.of(3, read)).list().ofMinSize(1).ofMaxSize(30);
    }

    @Property(tries = 25)
    void aReaderResumingFromItsLastPositionSeesEveryCommittedEventOnceInOrder(@ForAll("schedules") List<Step> schedule)
            throws Exception {
        int run = tries.incrementAndGet();
        GlobalPosition[] checkpoint = {head()};
        GlobalPosition start = checkpoint[0];
        List<RecordedEvent> seen = new ArrayList<>();
        Set<UUID> committed = new HashSet<>();
        Set<UUID> rolledBack = new HashSet<>();
        Connection[] writers = new Connection[3];
        List<List<UUID>> open = new ArrayList<>();
        try {
            for (int w = 0; w < writers.length; w++) {
                writers[w] = TestPostgres.connect(url);
                writers[w].setAutoCommit(false);
                open.add(new ArrayList<>());
            }
            for (Step step : schedule) {
                switch (step) {
                    case Append a -> {
                        List<EventData> events = new ArrayList<>();
                        for (int i = 0; i < a.events(); i++) events.add(EventData.of("Stepped", "{\"i\":" + i + "}"));
                        store.append(writers[a.writer()], "prop" + run + "-w" + a.writer() + "s" + a.stream(), ExpectedVersion.any(), events);
                        events.forEach(e -> open.get(a.writer()).add(e.eventId()));
                    }
                    case Commit c -> {
                        writers[c.writer()].commit();
                        committed.addAll(open.get(c.writer()));
                        open.get(c.writer()).clear();
                    }
                    case Rollback r -> {
                        writers[r.writer()].rollback();
                        rolledBack.addAll(open.get(r.writer()));
                        open.get(r.writer()).clear();
                    }
                    case Read r -> read(checkpoint, seen, r.maxCount());
                }
            }
            for (int w = 0; w < writers.length; w++) {
                writers[w].commit();
                committed.addAll(open.get(w));
            }
        } finally {
            for (Connection c : writers) if (c != null) c.close();
        }
        while (read(checkpoint, seen, 4) > 0) {
            // drain
        }
        List<RecordedEvent> truth = new ArrayList<>();
        store.readAll().after(start).forEach(truth::add);
        assertThat(seen).extracting(RecordedEvent::eventId).containsExactlyElementsOf(truth.stream().map(RecordedEvent::eventId).toList());
        assertThat(new HashSet<>(seen.stream().map(RecordedEvent::eventId).toList())).isEqualTo(committed);
        assertThat(seen).noneMatch(e -> rolledBack.contains(e.eventId()));
    }

    private static long read(GlobalPosition[] checkpoint, List<RecordedEvent> seen, int maxCount) {
        return store.readAll().after(checkpoint[0]).maxCount(maxCount).forEach(e -> {
            seen.add(e);
            checkpoint[0] = e.globalPosition();
        });
    }

    private static GlobalPosition head() {
        GlobalPosition[] last = {GlobalPosition.START};
        store.readAll().forEach(e -> last[0] = e.globalPosition());
        return last[0];
    }
}
