package io.annals.events;

import io.annals.context.AnnalsContext;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Append, read, optimistic concurrency, idempotency and bad input, on a real PostgreSQL. */
@SuppressWarnings("try")
class EventStoreTest {

    static String url;
    static EventStore store;

    @BeforeAll
    static void setUp() {
        url = TestPostgres.newDatabase("events");
        store = EventStore.at(url);
        store.migrate();
    }

    private static String stream() {
        return "account-" + UUID.randomUUID();
    }

    @Test
    void appendsManyEventsInOrderAndReadsThemForwardsAndBackwards() {
        String s = stream();
        AppendResult r = store.append(s, ExpectedVersion.noStream(),
                EventData.of("Opened", "{\"owner\":\"alice\"}"), EventData.of("Deposited", "{\"amount\":50}"),
                EventData.of("Deposited", "{\"amount\":125}"));
        assertThat(r.streamVersion()).isEqualTo(3);
        assertThat(r.duplicate()).isFalse();
        assertThat(r.lastPosition() - r.firstPosition()).isEqualTo(2);

        List<RecordedEvent> all = store.readStream(s).toList();
        assertThat(all).extracting(RecordedEvent::streamVersion).containsExactly(1L, 2L, 3L);
        assertThat(all).extracting(RecordedEvent::type).containsExactly("Opened", "Deposited", "Deposited");
        assertThat(all.get(0).streamType()).isEqualTo("account");
        assertThat(all.get(2).data()).isEqualTo("{\"amount\": 125}");
        assertThat(store.readStream(s).backwards().maxCount(2).toList())
                .extracting(RecordedEvent::streamVersion).containsExactly(3L, 2L);
        assertThat(store.readStream(s).fromVersion(2).maxCount(1).toList())
                .extracting(RecordedEvent::streamVersion).containsExactly(2L);
        assertThat(store.readStream(s).backwards().fromVersion(2).toList())
                .extracting(RecordedEvent::streamVersion).containsExactly(2L, 1L);
        assertThat(store.readStream(s).toVersion(2).toList()).hasSize(2);
        assertThat(store.streamInfo(s)).hasValueSatisfying(i -> {
            assertThat(i.version()).isEqualTo(3);
            assertThat(i.streamType()).isEqualTo("account");
            assertThat(i.isOpen()).isTrue();
        });
        assertThat(store.readStream("account-nobody").toList()).isEmpty();
    }

    @Test
    void expectedVersionsAreEnforcedAndConflictsCarryTheActualVersion() {
        String s = stream();
        assertThatThrownBy(() -> store.append(s, ExpectedVersion.streamExists(), EventData.of("X", "{}")))
                .isInstanceOfSatisfying(WrongExpectedVersionException.class, e -> {
                    assertThat(e.actualVersion()).isZero();
                    assertThat(e.getMessage()).contains("does not exist");
                });
        assertThatThrownBy(() -> store.append(s, ExpectedVersion.exactly(1), EventData.of("X", "{}")))
                .isInstanceOfSatisfying(WrongExpectedVersionException.class, e -> assertThat(e.actualVersion()).isZero());
        store.append(s, ExpectedVersion.exactly(0), EventData.of("X", "{}"));
        assertThatThrownBy(() -> store.append(s, ExpectedVersion.noStream(), EventData.of("X", "{}")))
                .isInstanceOfSatisfying(WrongExpectedVersionException.class, e -> assertThat(e.actualVersion()).isEqualTo(1));
        store.append(s, ExpectedVersion.streamExists(), EventData.of("X", "{}"));
        store.append(s, ExpectedVersion.any(), EventData.of("X", "{}"));
        assertThatThrownBy(() -> store.append(s, ExpectedVersion.exactly(2), EventData.of("X", "{}")))
                .isInstanceOfSatisfying(WrongExpectedVersionException.class, e -> {
                    assertThat(e.actualVersion()).isEqualTo(3);
                    assertThat(e.expected()).isEqualTo(ExpectedVersion.exactly(2));
                    assertThat(e.streamId()).isEqualTo(s);
                });
        AppendResult r = store.append(s, ExpectedVersion.exactly(3), EventData.of("X", "{}"));
        assertThat(r.streamVersion()).isEqualTo(4);
        assertThat(store.readStream(s).toList()).hasSize(4);
    }

    @Test
    void aRetriedAppendIsANoOpReturningTheOriginalResult() {
        String s = stream();
        List<EventData> batch = List.of(EventData.of("A", "{\"n\":1}"), EventData.of("B", "{\"n\":2}"));
        AppendResult first = store.append(s, ExpectedVersion.noStream(), batch);
        // The retry would fail its expected version if it were not recognised as a duplicate.
        AppendResult retry = store.append(s, ExpectedVersion.noStream(), batch);
        assertThat(retry.duplicate()).isTrue();
        assertThat(retry.streamVersion()).isEqualTo(first.streamVersion());
        assertThat(retry.firstPosition()).isEqualTo(first.firstPosition());
        assertThat(retry.lastPosition()).isEqualTo(first.lastPosition());
        // Key order in JSON is not content.
        AppendResult reordered = store.append(s, ExpectedVersion.any(),
                List.of(new EventData(batch.get(0).eventId(), "A", "{ \"n\" : 1 }", null), batch.get(1)));
        assertThat(reordered.duplicate()).isTrue();
        assertThat(store.readStream(s).toList()).hasSize(2);
    }

    @Test
    void sameIdsWithOtherContentOrElsewhereAreATypedError() {
        String s = stream();
        EventData a = EventData.of("A", "{\"n\":1}");
        store.append(s, ExpectedVersion.noStream(), a);
        assertThatThrownBy(() -> store.append(s, ExpectedVersion.any(), new EventData(a.eventId(), "A", "{\"n\":2}", null)))
                .isInstanceOfSatisfying(EventIdConflictException.class, e -> {
                    assertThat(e.eventId()).isEqualTo(a.eventId());
                    assertThat(e.getMessage()).contains("new id");
                });
        assertThatThrownBy(() -> store.append(stream(), ExpectedVersion.any(), a))
                .isInstanceOf(EventIdConflictException.class);
        assertThatThrownBy(() -> store.append(s, ExpectedVersion.any(), a, EventData.of("B", "{}")))
                .isInstanceOf(EventIdConflictException.class).hasMessageContaining("1 of the 2 event ids");
        // A stored id that is not the first of the append: the unique constraint catches it, same exception.
        EventData fresh = EventData.of("C", "{}");
        assertThatThrownBy(() -> store.append(s, ExpectedVersion.any(), fresh, a))
                .isInstanceOfSatisfying(EventIdConflictException.class, e -> assertThat(e.eventId()).isEqualTo(a.eventId()));
        assertThat(store.readStream(s).toList()).hasSize(1);
    }

    @Test
    void metadataIsTheCurrentApplicationContextUnlessGiven() {
        String s = stream();
        try (var scope = AnnalsContext.with(Map.of("user_id", 42, "request_id", "req-7"))) {
            store.append(s, ExpectedVersion.any(), EventData.of("A", "{}"));
        }
        store.append(s, ExpectedVersion.any(), EventData.of("B", "{}").withMetadata("{\"source\":\"import\"}"));
        store.append(s, ExpectedVersion.any(), EventData.of("C", "{}"));
        List<RecordedEvent> events = store.readStream(s).toList();
        assertThat(events.get(0).metadata()).isEqualTo("{\"user_id\": 42, \"request_id\": \"req-7\"}");
        assertThat(events.get(1).metadata()).isEqualTo("{\"source\": \"import\"}");
        assertThat(events.get(2).metadata()).isEqualTo("{}");
    }

    @Test
    void badInputGetsClearErrors() {
        String tooLong = "account-" + "x".repeat(EventStore.MAX_STREAM_ID_LENGTH);
        assertThatThrownBy(() -> store.append(tooLong, ExpectedVersion.any(), EventData.of("A", "{}")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(tooLong.length() + " characters long, over the limit of 200");
        assertThatThrownBy(() -> store.readStream(" ")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("blank");
        assertThatThrownBy(() -> EventData.of("A", "{\"amount\": 5")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("The data of event").hasMessageContaining("type A").hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> EventData.of("A", "{} {}")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("text after its JSON value");
        assertThatThrownBy(() -> EventData.of("A", "{}").withMetadata("[1]")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("must be a JSON object");
        assertThatThrownBy(() -> EventData.of(" ", "{}")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("event type is 1 to 200");
        assertThatThrownBy(() -> store.append(stream(), ExpectedVersion.any(), List.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one event");
        assertThatThrownBy(() -> ExpectedVersion.exactly(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void readAllFiltersByEventTypeAndStreamType() {
        String url2 = TestPostgres.newDatabase("events_filter");
        try (EventStore s2 = EventStore.at(url2)) {
            s2.migrate();
            s2.append("account-1", ExpectedVersion.any(), EventData.of("Opened", "{}"), EventData.of("Deposited", "{}"));
            s2.append("order-1", ExpectedVersion.any(), EventData.of("Placed", "{}"));
            s2.append("account-2", ExpectedVersion.any(), EventData.of("Opened", "{}"));
            assertThat(s2.readAll().maxCount(10).toList()).extracting(RecordedEvent::type)
                    .containsExactly("Opened", "Deposited", "Placed", "Opened");
            assertThat(s2.readAll().eventTypes("Opened").maxCount(10).toList()).extracting(RecordedEvent::streamId)
                    .containsExactly("account-1", "account-2");
            assertThat(s2.readAll().streamTypes("order").maxCount(10).toList()).extracting(RecordedEvent::type)
                    .containsExactly("Placed");
            List<RecordedEvent> firstTwo = s2.readAll().maxCount(2).toList();
            assertThat(s2.readAll().after(firstTwo.get(1).globalPosition()).maxCount(10).toList())
                    .extracting(RecordedEvent::streamId).containsExactly("order-1", "account-2");
            assertThatThrownBy(() -> s2.readAll().toList()).isInstanceOf(IllegalStateException.class).hasMessageContaining("maxCount");
        }
    }

    @Test
    void anEventInAnOpenTransactionHoldsBackLaterOnesInTheGlobalOrderUntilItEnds() throws Exception {
        String url2 = TestPostgres.newDatabase("events_xmin");
        try (EventStore s2 = EventStore.at(url2); Connection open = TestPostgres.connect(url2)) {
            s2.migrate();
            open.setAutoCommit(false);
            s2.append(open, "a-1", ExpectedVersion.any(), List.of(EventData.of("Early", "{}")));  // lower xid, not committed
            s2.append("b-1", ExpectedVersion.any(), EventData.of("Late", "{}"));                  // committed first
            assertThat(s2.readAll().maxCount(10).toList()).isEmpty();                              // not yet safe to read
            open.commit();
            assertThat(s2.readAll().maxCount(10).toList()).extracting(RecordedEvent::type).containsExactly("Early", "Late");
        }
    }
}
