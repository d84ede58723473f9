package io.annals.events;

import io.annals.changelog.ChangeLog;
import io.annals.changelog.PartitionInterval;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The event store and the change log share schema {@code annals} but install only themselves, each
 * with its own Flyway history, in either order.
 */
class MigrationTest {

    /**
     * The history table's entries as "version type", in the order they were recorded. "- SCHEMA" is
     * Flyway's note that it created schema annals; "0 BASELINE" that it found the schema in use.
     */
    private static List<String> history(String url, String table) {
        return TestPostgres.rows(url, "SELECT coalesce(version, '-') || ' ' || type FROM annals." + table
                + " ORDER BY installed_rank");
    }

    /**
     * Every migration of the change log, as "version SQL", in order: read from a database the change
     * log had to itself, so that a new migration does not break these tests.
     */
    private static List<String> changeLogMigrations() {
        String url = TestPostgres.newDatabase("changelog_alone");
        ChangeLog.at(url).migrate();
        List<String> history = history(url, "flyway_schema_history");
        assertThat(history).startsWith("- SCHEMA", "1 SQL", "2 SQL", "3 SQL", "4 SQL", "5 SQL", "6 SQL");
        return history.subList(1, history.size());
    }

    private static List<String> after(String first, List<String> rest) {
        List<String> all = new ArrayList<>(List.of(first));
        all.addAll(rest);
        return all;
    }

    private static boolean exists(String url, String relation) {
        return TestPostgres.rows(url, "SELECT to_regclass('" + relation + "') IS NOT NULL").equals(List.of("t"));
    }

    private static void appendAndRead(EventStore store) {
        store.append("a-1", ExpectedVersion.noStream(), EventData.of("A", "{}"));
        assertThat(store.readStream("a-1").toList()).extracting(RecordedEvent::type).containsExactly("A");
    }

    @Test
    void anEventStoreOnlyDatabaseHasNoChangeLog() {
        String url = TestPostgres.newDatabase("events_only");
        try (EventStore store = EventStore.at(url)) {
            store.migrate();
            appendAndRead(store);
        }
        assertThat(history(url, "events_schema_history")).containsExactly("- SCHEMA", "1 SQL");
        assertThat(exists(url, "annals.changes")).isFalse();
        assertThat(exists(url, "annals.checkpoints")).isFalse();
        assertThat(exists(url, "annals.flyway_schema_history")).isFalse();
        assertThat(TestPostgres.rows(url, "SELECT count(*) FROM pg_proc WHERE pronamespace = 'annals'::regnamespace"
                + " AND proname <> 'append_events'")).as("functions other than the event store's").containsExactly("0");
    }

    @Test
    void theChangeLogCanBeAddedAfterTheEventStore() {
        String url = TestPostgres.newDatabase("events_then_changelog");
        try (EventStore store = EventStore.at(url)) {
            store.migrate();
            List<String> events = history(url, "events_schema_history");
            assertThat(events).containsExactly("- SCHEMA", "1 SQL");
            ChangeLog log = ChangeLog.at(store.dataSource());
            log.migrate();
            // Flyway found schema annals holding the event store, so the change log's history begins with its baseline.
            List<String> changeLog = history(url, "flyway_schema_history");
            assertThat(changeLog).isEqualTo(after("0 BASELINE", changeLogMigrations()));
            assertThat(exists(url, "annals.changes")).isTrue();
            assertThat(log.partitionInterval()).isEqualTo(PartitionInterval.MONTH);

            store.migrate();
            log.migrate();
            assertThat(history(url, "events_schema_history")).as("nothing more to do").isEqualTo(events);
            assertThat(history(url, "flyway_schema_history")).as("nothing more to do").isEqualTo(changeLog);
            appendAndRead(store);
        }
    }

    @Test
    void theEventStoreCanBeAddedAfterTheChangeLog() {
        String url = TestPostgres.newDatabase("changelog_then_events");
        ChangeLog.at(url).migrate();
        List<String> changeLog = history(url, "flyway_schema_history");
        assertThat(changeLog).isEqualTo(after("- SCHEMA", changeLogMigrations()));
        try (EventStore store = EventStore.at(url)) {
            store.migrate();
            assertThat(history(url, "events_schema_history")).containsExactly("0 BASELINE", "1 SQL");
            appendAndRead(store);
            store.migrate();
        }
        assertThat(history(url, "flyway_schema_history")).as("the change log's history, untouched").isEqualTo(changeLog);
    }

    /** What "safe from several processes at once" means now that each module may be the one to create the schema. */
    @Test
    void eventStoresAndChangeLogsMigratingOneNewDatabaseAtOnceAllSucceed() throws Exception {
        String url = TestPostgres.newDatabase("migrate_race");
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                boolean events = i % 2 == 0;
                done.add(pool.submit(() -> {
                    start.await();
                    if (events) {
                        try (EventStore store = EventStore.at(url)) {
                            store.migrate();
                        }
                    } else {
                        ChangeLog.at(url).migrate();
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) f.get();
        } finally {
            pool.shutdown();
        }
        assertThat(history(url, "events_schema_history")).endsWith("1 SQL").doesNotHaveDuplicates();
        assertThat(history(url, "flyway_schema_history")).endsWith(changeLogMigrations().toArray(String[]::new))
                .doesNotHaveDuplicates();
        try (EventStore store = EventStore.at(url)) {
            appendAndRead(store);
        }
    }
}
