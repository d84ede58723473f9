package io.annals.events;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Archived streams stay readable but closed; deleted ones keep only a tombstone. */
class ArchiveAndDeleteTest {

    static String url;
    static EventStore store;

    @BeforeAll
    static void setUp() {
        url = TestPostgres.newDatabase("events_archive");
        store = EventStore.at(url);
        store.migrate();
    }

    @AfterAll
    static void tearDown() {
        store.close();
    }

    @Test
    void anArchivedStreamIsReadableButAcceptsNoMoreEvents() {
        store.append("ledger-1", ExpectedVersion.noStream(), EventData.of("Opened", "{}"), EventData.of("Closed", "{}"));
        store.archive("ledger-1");
        store.archive("ledger-1"); // idempotent
        assertThatThrownBy(() -> store.append("ledger-1", ExpectedVersion.any(), EventData.of("Late", "{}")))
                .isInstanceOfSatisfying(StreamClosedException.class, e -> {
                    assertThat(e.deleted()).isFalse();
                    assertThat(e.getMessage()).contains("ledger-1 is archived");
                });
        assertThat(store.readStream("ledger-1").toList()).hasSize(2);
        assertThat(store.streamInfo("ledger-1")).hasValueSatisfying(i -> {
            assertThat(i.archivedAt()).isNotNull();
            assertThat(i.isOpen()).isFalse();
        });
        assertThatThrownBy(() -> store.archive("ledger-nope")).isInstanceOf(EventStoreException.class).hasMessageContaining("does not exist");
    }

    @Test
    void aDeletedStreamKeepsOnlyATombstoneAndItsIdCannotBeReused() throws Exception {
        store.append("customer-17", ExpectedVersion.noStream(), EventData.of("Registered", "{\"email\":\"x@example.com\"}"),
                EventData.of("Moved", "{}"));
        TestPostgres.execute(url, "INSERT INTO annals.event_snapshots (stream_id, schema_version, stream_version, as_of, state)"
                + " VALUES ('customer-17', '1:x', 2, now(), '{}')");
        store.delete("customer-17");
        List<RecordedEvent> left = store.readStream("customer-17").toList();
        assertThat(left).extracting(RecordedEvent::type).containsExactly(EventStore.TOMBSTONE_TYPE);
        assertThat(left.getFirst().streamVersion()).isEqualTo(3);
        assertThat(store.readAll().streamTypes("customer").maxCount(10).toList()).hasSize(1);
        assertThatThrownBy(() -> store.append("customer-17", ExpectedVersion.any(), EventData.of("Back", "{}")))
                .isInstanceOfSatisfying(StreamClosedException.class, e -> assertThat(e.deleted()).isTrue());
        assertThat(store.streamInfo("customer-17")).hasValueSatisfying(i -> assertThat(i.deletedAt()).isNotNull());
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM annals.event_snapshots WHERE stream_id = 'customer-17'")) {
            rs.next();
            assertThat(rs.getLong(1)).isZero();
        }
        assertThatThrownBy(() -> store.delete("customer-nope")).isInstanceOf(EventStoreException.class).hasMessageContaining("does not exist");
        assertThatThrownBy(() -> store.delete("customer-17")).isInstanceOf(StreamClosedException.class);
    }
}
