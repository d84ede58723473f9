package io.annals.replication.replica;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.annals.replication.JdbcDataSource;
import io.annals.replication.ReplicaTable;
import io.annals.replication.wire.CqrsMessage;
import io.annals.replication.wire.PythonText;
import io.annals.replication.wire.SignalType;
import io.annals.testkit.Services;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link Applier#applyBatch}, on PostgreSQL (reduced rounds of multi-row statements) and MariaDB
 * (one transaction): the same rows and tombstones as applying the messages one at a time, and a
 * failure leaves nothing behind.
 */
class BatchApplyTest {

    private static final Instant T0 = Instant.parse("2026-12-04T21:38:27.950119Z");
    private final String suffix = UUID.randomUUID().toString().substring(0, 8);
    private final List<String> tables = new ArrayList<>();
    private String url;
    private boolean postgres;

    @AfterEach
    void dropMariaDbTables() {
        if (postgres || url == null) return;
        for (String t : tables) TestPostgres.execute(url, "DROP TABLE IF EXISTS " + t);
    }

    private void database(String kind) {
        postgres = kind.equals("postgres");
        if (postgres) {
            url = TestPostgres.newDatabase("batch");
        } else {
            Services.requireMariaDb();
            url = Services.mariaDbUrl();
        }
    }

    /** A replica table for authors (the name must not be 'poison') with its own tombstones; returns its store. */
    private LocalStore store(String base) throws SQLException {
        String t = base + "_" + suffix;
        tables.add(t);
        tables.add(t + "_tomb");
        TestPostgres.execute(url, "CREATE TABLE " + t + " (id int PRIMARY KEY, full_name varchar(100) NOT NULL, cqrs_revision int NOT NULL,"
                + " cqrs_updated " + (postgres ? "timestamptz" : "datetime(6)") + " NOT NULL, CONSTRAINT " + t + "_ok CHECK (full_name <> 'poison'))");
        return LocalStore.open(JdbcDataSource.of(url), List.of(ReplicaTable.builder("author").table(t).rename("name", "full_name").build()),
                t + "_tomb");
    }

    private static CqrsMessage save(SignalType type, int id, int revision, int second, String name) {
        ObjectNode data = JsonNodeFactory.instance.objectNode();
        Instant at = T0.plusSeconds(second);
        data.put("cqrs_revision", revision).put("cqrs_updated", PythonText.dateTime(at)).put("id", id).put("name", name);
        return new CqrsMessage(type, "author", data, null, JsonNodeFactory.instance.numberNode(id), null, 0, at.plus(Duration.ofDays(3650)), null);
    }

    private static CqrsMessage delete(int id, int revision, int second) {
        ObjectNode data = JsonNodeFactory.instance.objectNode();
        Instant at = T0.plusSeconds(second);
        data.put("id", id).put("cqrs_revision", revision).put("cqrs_updated", PythonText.dateTime(at));
        return new CqrsMessage(SignalType.DELETE, "author", data, null, JsonNodeFactory.instance.numberNode(id), null, 0,
                at.plus(Duration.ofDays(3650)), null);
    }

    private static Applier.BatchResult batch(LocalStore store, Applier a, CqrsMessage... messages) throws Exception {
        List<Applier.Prepared> prepared = new ArrayList<>();
        for (CqrsMessage m : messages) {
            Applier.Prepared p = store.prepare(m);
            assertThat(p).as("batchable: %s", m).isNotNull();
            prepared.add(p);
        }
        return a.applyBatch(prepared);
    }

    private List<String> rows(LocalStore store) {
        String t = store.shapes().get("author").name();
        return TestPostgres.rows(url, "SELECT id, full_name, cqrs_revision FROM " + t + " ORDER BY id");
    }

    private List<String> tombstones(LocalStore store) {
        String t = store.shapes().get("author").name();
        return TestPostgres.rows(url, "SELECT pk, revision FROM " + t + "_tomb ORDER BY pk");
    }

    @ParameterizedTest
    @ValueSource(strings = {"postgres", "mariadb"})
    void severalVersionsOfOneRowInOneBatchEndAtTheNewest(String kind) throws Exception {
        database(kind);
        LocalStore store = store("versions");
        Applier a = store.applier();
        try {
            Applier.BatchResult r = batch(store, a,
                    save(SignalType.SAVE, 1, 0, 0, "v0"), save(SignalType.SAVE, 1, 2, 2, "v2"), save(SignalType.SAVE, 1, 1, 1, "v1 late"),
                    save(SignalType.SAVE, 2, 0, 0, "other"), save(SignalType.SAVE, 1, 2, 2, "v2"));
            assertThat(rows(store)).containsExactly("1 | v2 | 2", "2 | other | 0");
            // One at a time, v0, v2 and the other row are applied; the late v1 and the duplicate v2 are not.
            assertThat(r).isEqualTo(new Applier.BatchResult(3, 2));
            // A SYNC replaces an existing row whatever its age, in its place among the others.
            r = batch(store, a, save(SignalType.SAVE, 1, 3, 3, "v3"), save(SignalType.SYNC, 1, 1, 1, "synced"),
                    save(SignalType.SAVE, 2, 1, 1, "other v1"), save(SignalType.SAVE, 2, 0, 0, "other late"));
            assertThat(rows(store)).containsExactly("1 | synced | 1", "2 | other v1 | 1");
            assertThat(r).isEqualTo(new Applier.BatchResult(3, 1));
        } finally {
            a.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"postgres", "mariadb"})
    void aDeleteAndALateSaveInOneBatchLeaveTheRowDeleted(String kind) throws Exception {
        database(kind);
        LocalStore store = store("tomb");
        Applier a = store.applier();
        try {
            batch(store, a, save(SignalType.SAVE, 1, 0, 0, "Ada"), save(SignalType.SAVE, 3, 0, 0, "kept"),
                    delete(1, 1, 1), save(SignalType.SAVE, 1, 0, 0, "Ada late"), save(SignalType.SYNC, 1, 0, 0, "Ada sync"),
                    delete(2, 5, 5), save(SignalType.SAVE, 2, 4, 4, "never"));
            assertThat(rows(store)).containsExactly("3 | kept | 0");
            assertThat(tombstones(store)).containsExactly("1 | 1", "2 | 5");
            // A re-created row (a django-cqrs master numbers it from 0 again) is newer by its time, and drops the tombstone.
            batch(store, a, save(SignalType.SAVE, 1, 0, 10, "Ada reborn"), delete(3, 1, 10), save(SignalType.SAVE, 3, 0, 0, "kept late"));
            assertThat(rows(store)).containsExactly("1 | Ada reborn | 0");
            assertThat(tombstones(store)).containsExactly("2 | 5", "3 | 1");
        } finally {
            a.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"postgres", "mariadb"})
    void aBatchThatFailsLeavesNothingBehind(String kind) throws Exception {
        database(kind);
        LocalStore store = store("poison");
        Applier a = store.applier();
        try {
            assertThatThrownBy(() -> batch(store, a, save(SignalType.SAVE, 1, 0, 0, "fine"), delete(9, 0, 0),
                    save(SignalType.SAVE, 2, 0, 0, "poison"), save(SignalType.SAVE, 3, 0, 0, "fine too"))).isInstanceOf(SQLException.class);
            assertThat(rows(store)).isEmpty();
            assertThat(tombstones(store)).isEmpty();
            // The connection is usable again: the caller applies the messages one at a time.
            assertThat(a.apply(save(SignalType.SAVE, 1, 0, 0, "fine"))).isEqualTo(Applier.Outcome.APPLIED);
            assertThat(rows(store)).containsExactly("1 | fine | 0");
        } finally {
            a.close();
        }
    }

    /** Random histories of a few rows, duplicated and shuffled: batches of any size end where one message at a time ends. */
    @ParameterizedTest
    @ValueSource(strings = {"postgres", "mariadb"})
    void batchesEndWhereOneAtATimeEnds(String kind) throws Exception {
        database(kind);
        LocalStore batched = store("batched");
        LocalStore single = store("single");
        Random random = new Random(42);
        List<CqrsMessage> messages = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            int id = random.nextInt(6);
            int second = random.nextInt(40);
            int revision = random.nextInt(4);
            int what = random.nextInt(10);
            messages.add(what < 6 ? save(SignalType.SAVE, id, revision, second, "n" + i)
                    : what < 9 ? delete(id, revision, second) : save(SignalType.SYNC, id, revision, second, "s" + i));
        }
        Applier a = batched.applier();
        Applier b = single.applier();
        try {
            long appliedBatched = 0;
            long appliedSingle = 0;
            for (int from = 0; from < messages.size(); ) {
                int to = Math.min(messages.size(), from + 1 + random.nextInt(60));
                appliedBatched += batch(batched, a, messages.subList(from, to).toArray(CqrsMessage[]::new)).applied();
                for (CqrsMessage m : messages.subList(from, to)) if (b.apply(m) == Applier.Outcome.APPLIED) appliedSingle++;
                assertThat(rows(batched)).as("after message %d", to).isEqualTo(rows(single));
                assertThat(tombstones(batched)).as("after message %d", to).isEqualTo(tombstones(single));
                from = to;
            }
            assertThat(rows(batched)).isNotEmpty();
            assertThat(tombstones(batched)).isNotEmpty();
            // Superseded messages count as applied when each was the newest of its row so far; the database may know better.
            assertThat(appliedBatched).isGreaterThanOrEqualTo(appliedSingle);
        } finally {
            a.close();
            b.close();
        }
    }
}
