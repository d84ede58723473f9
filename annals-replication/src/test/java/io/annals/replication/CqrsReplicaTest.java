package io.annals.replication;

import io.annals.replication.wire.CqrsMessage;
import io.annals.replication.wire.CqrsTopology;
import io.annals.replication.wire.SignalType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static io.annals.replication.Messages.at;
import static io.annals.replication.Messages.author;
import static io.annals.replication.Messages.body;
import static io.annals.replication.Messages.delete;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The replica on PostgreSQL and on MariaDB, fed hand-made Django messages through the machine's
 * RabbitMQ: order by revision, tombstones, retries and dead letters, bad input.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class CqrsReplicaTest {

    private RabbitQueues rabbit;
    private ReplicaTarget target;

    @BeforeEach
    void broker() throws Exception {
        rabbit = new RabbitQueues();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (target != null) target.close();
        if (rabbit != null) rabbit.close();
    }

    private String authors(String kind) {
        target = ReplicaTarget.of(kind);
        String t = target.table("authors");
        target.execute("CREATE TABLE " + t + " (id int PRIMARY KEY, full_name varchar(100) NOT NULL,"
                + " birth_date date, cqrs_revision int NOT NULL, cqrs_updated " + target.timestamp() + " NOT NULL,"
                + " CONSTRAINT " + t + "_no_poison CHECK (full_name <> 'poison'))");
        return t;
    }

    private CqrsReplica.Builder replica(String table, String queue) {
        return CqrsReplica.builder(target.dataSource()).broker(Broker.LOCAL).queue(queue)
                .table(ReplicaTable.builder(RabbitQueues.AUTHOR).table(table).rename("name", "full_name").build())
                .tombstoneTable(target.table("tombstones")).maxRetries(2).retryDelay(Duration.ofMillis(20), Duration.ofMillis(100));
    }

    /** "postgres-hook": with a handler, PostgreSQL takes the statement-by-statement path MariaDB takes. */
    @ParameterizedTest
    @ValueSource(strings = {"postgres", "postgres-hook", "mariadb"})
    void shuffledAndDuplicatedDeliveryConvergesToTheMastersRows(String kind) throws Exception {
        String t = authors(kind);
        boolean hook = kind.endsWith("-hook");
        String audit = target.table("audit");
        if (hook) target.execute("CREATE TABLE " + audit + " (action text, id int, revision int)");
        String queue = rabbit.replicaQueue("converge", RabbitQueues.AUTHOR);
        // Each row's history: saves with rising revisions, some deleted at the end, one deleted and re-created from 0.
        List<CqrsMessage> history = new ArrayList<>();
        List<String> expected = new ArrayList<>();
        for (int id = 1; id <= 30; id++) {
            int rev = 0;
            for (; rev < 4; rev++) history.add(author(SignalType.SAVE, id, rev, at(id * 100 + rev), "a" + id + " v" + rev));
            if (id % 5 == 0) {
                history.add(delete(RabbitQueues.AUTHOR, id, rev, at(id * 100 + rev)));
            } else if (id % 7 == 0) {
                history.add(delete(RabbitQueues.AUTHOR, id, rev, at(id * 100 + rev)));
                history.add(author(SignalType.SAVE, id, 0, at(id * 100 + 50), "a" + id + " again"));
                expected.add(id + " | a" + id + " again | 0");
            } else {
                expected.add(id + " | a" + id + " v3 | 3");
            }
        }
        List<CqrsMessage> shuffled = new ArrayList<>(history);
        shuffled.addAll(history.subList(0, 40)); // duplicates
        Collections.shuffle(shuffled, new Random(11));
        for (CqrsMessage m : shuffled) rabbit.publish(CqrsTopology.queueRoutingKey(queue, RabbitQueues.AUTHOR), body(m));
        ReplicaTable table = ReplicaTable.builder(RabbitQueues.AUTHOR).table(t).rename("name", "full_name").handler((action, m, tx) -> {
            try (PreparedStatement ps = tx.prepareStatement("INSERT INTO " + audit + " VALUES (?, ?, ?)")) {
                ps.setString(1, action.name());
                ps.setInt(2, m.instancePk().intValue());
                ps.setInt(3, m.revision());
                ps.executeUpdate();
            }
        }).build();
        CqrsReplica.Builder builder = hook ? CqrsReplica.builder(target.dataSource()).broker(Broker.LOCAL).queue(queue).table(table)
                .tombstoneTable(target.table("tombstones")) : replica(t, queue);
        try (CqrsReplica r = builder.workers(3).prefetch(17).start()) {
            assertThat(r.awaitIdle(Duration.ofSeconds(30))).isTrue();
            if (hook) {
                assertThat(target.rows("SELECT count(*) FROM " + audit)).containsExactly(Long.toString(r.stats().applied()));
                assertThat(target.rows("SELECT count(*) FROM " + audit + " WHERE action = 'DELETE'").get(0)).isNotEqualTo("0");
            }
            assertThat(target.rows("SELECT id, full_name, cqrs_revision FROM " + t + " ORDER BY id")).containsExactlyElementsOf(
                    expected.stream().sorted((a, b) -> Integer.compare(Integer.parseInt(a.split(" ")[0]), Integer.parseInt(b.split(" ")[0])))
                            .toList());
            assertThat(r.stats().applied() + r.stats().ignored()).isEqualTo(shuffled.size());
            assertThat(r.stats().deadLettered()).isZero();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"postgres", "mariadb"})
    void aDeleteLeavesATombstoneSoALateSaveCannotResurrectTheRow(String kind) throws Exception {
        String t = authors(kind);
        String queue = rabbit.replicaQueue("tomb");
        try (CqrsReplica r = replica(t, queue).start()) {
            String key = CqrsTopology.routingKey(RabbitQueues.AUTHOR);
            rabbit.publish(key, body(author(SignalType.SAVE, 1, 0, at(0), "Ada")));
            rabbit.publish(key, body(author(SignalType.SAVE, 1, 1, at(1), "Ada King")));
            rabbit.publish(key, body(delete(RabbitQueues.AUTHOR, 1, 2, at(2))));
            rabbit.publish(key, body(author(SignalType.SAVE, 1, 1, at(1), "Ada King")));      // late duplicate
            rabbit.publish(key, body(author(SignalType.SYNC, 1, 1, at(1), "Ada King")));      // late sync
            assertThat(r.awaitIdle(Duration.ofSeconds(20))).isTrue();
            assertThat(target.rows("SELECT id FROM " + t)).isEmpty();
            // A Django master numbers a re-created row from 0 again: newer cqrs_updated, so applied.
            rabbit.publish(key, body(author(SignalType.SAVE, 1, 0, at(10), "Ada reborn")));
            assertThat(r.awaitIdle(Duration.ofSeconds(20))).isTrue();
            assertThat(target.rows("SELECT id, full_name, cqrs_revision, birth_date FROM " + t))
                    .containsExactly("1 | Ada reborn | 0 | 1815-12-10");
            // A delete of a row never seen leaves a tombstone too.
            rabbit.publish(key, body(delete(RabbitQueues.AUTHOR, 2, 5, at(5))));
            rabbit.publish(key, body(author(SignalType.SAVE, 2, 4, at(4), "late")));
            assertThat(r.awaitIdle(Duration.ofSeconds(20))).isTrue();
            assertThat(target.rows("SELECT id FROM " + t + " ORDER BY id")).containsExactly("1");
            assertThat(r.stats().ignored()).isEqualTo(3);
            assertThat(r.pruneTombstones()).isZero(); // kept for 7 days by default
        }
        try (CqrsReplica r = replica(t, queue).tombstonesKeptFor(Duration.ZERO).start()) {
            Thread.sleep(5);
            assertThat(r.pruneTombstones()).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"postgres", "mariadb"})
    void aPoisonMessageIsRetriedThenDeadLetteredAndAppliedWhenRetriedAfterTheFix(String kind) throws Exception {
        String t = authors(kind);
        String queue = rabbit.replicaQueue("poison");
        try (CqrsReplica r = replica(t, queue).start();
             CqrsDeadLetters dead = CqrsDeadLetters.open(Broker.factory(Broker.LOCAL), queue)) {
            rabbit.publish(RabbitQueues.AUTHOR, body(author(SignalType.SAVE, 7, 0, at(0), "poison")));  // violates the CHECK
            rabbit.publish(RabbitQueues.AUTHOR, body(author(SignalType.SAVE, 8, 0, at(0), "fine")));
            assertThat(r.awaitIdle(Duration.ofSeconds(20))).isTrue();
            assertThat(r.stats().retried()).isEqualTo(2);
            List<CqrsDeadLetters.DeadLetter> letters = dead.list(10);
            assertThat(letters).hasSize(1);
            assertThat(letters.get(0).cqrsId()).isEqualTo(RabbitQueues.AUTHOR);
            assertThat(letters.get(0).retries()).isEqualTo(2);
            assertThat(letters.get(0).error()).contains(RabbitQueues.AUTHOR + " 7 (revision 0) could not be applied", "(after 2 retries)");
            assertThat(dead.count()).as("listing leaves them").isEqualTo(1);
            java.io.StringWriter dump = new java.io.StringWriter();
            assertThat(dead.dump(dump)).isEqualTo(1);
            assertThat(dump.toString()).contains("\"error\":\"" + RabbitQueues.AUTHOR + " 7", "\"cqrs_id\":\"" + RabbitQueues.AUTHOR + "\"");
            target.execute("ALTER TABLE " + t + " DROP CONSTRAINT " + t + "_no_poison");
            assertThat(dead.retry()).isEqualTo(1);
            assertThat(r.awaitIdle(Duration.ofSeconds(20))).isTrue();
            assertThat(target.rows("SELECT id, full_name FROM " + t + " ORDER BY id")).containsExactly("7 | poison", "8 | fine");
            assertThat(dead.count()).isZero();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"postgres", "mariadb"})
    void badInputGoesToTheDeadLettersWithItsReasonAndTheReplicaGoesOn(String kind) throws Exception {
        String t = authors(kind);
        String queue = rabbit.replicaQueue("bad");
        try (CqrsReplica r = replica(t, queue).start();
             CqrsDeadLetters dead = CqrsDeadLetters.open(Broker.factory(Broker.LOCAL), queue)) {
            String retryKey = CqrsTopology.queueRoutingKey(queue, RabbitQueues.AUTHOR);
            rabbit.publish(retryKey, "{not json".getBytes(StandardCharsets.UTF_8));
            rabbit.publish(retryKey, new String(body(author(SignalType.SAVE, 1, 0, at(0), "x")), StandardCharsets.US_ASCII)
                    .replace("\"SAVE\"", "\"UPSERT\"").getBytes(StandardCharsets.US_ASCII));
            CqrsMessage unknown = author(SignalType.SAVE, 2, 0, at(0), "x");
            rabbit.channel.basicPublish("", queue, CqrsTopology.properties(), body(new CqrsMessage(unknown.signalType(), "publisher",
                    unknown.instanceData(), null, unknown.instancePk(), null, 0, unknown.expires(), null)));
            CqrsMessage mismatch = author(SignalType.SAVE, 3, 0, at(0), "x");
            mismatch.instanceData().put("birth_date", "not a date");
            rabbit.publish(retryKey, body(mismatch));
            rabbit.publish(retryKey, body(author(SignalType.SAVE, 4, 0, at(0), "x").withExpires(at(-100))));
            rabbit.publish(retryKey, body(author(SignalType.SAVE, 5, 0, at(0), "good")));
            assertThat(r.awaitIdle(Duration.ofSeconds(20))).isTrue();
            assertThat(target.rows("SELECT id, full_name FROM " + t)).containsExactly("5 | good");
            assertThat(dead.list(10)).extracting(CqrsDeadLetters.DeadLetter::error).satisfiesExactlyInAnyOrder(
                    e -> assertThat(e).startsWith("not a django-cqrs message: The body is not JSON"),
                    e -> assertThat(e).contains("signal_type 'UPSERT' is not SAVE, DELETE or SYNC"),
                    e -> assertThat(e).contains("unknown cqrs_id 'publisher': this replica maps [" + RabbitQueues.AUTHOR + "]"),
                    e -> assertThat(e).startsWith(RabbitQueues.AUTHOR + " 3: ").contains("\"not a date\"").containsIgnoringCase("date"),
                    e -> assertThat(e).startsWith("expired at 2026-12-04T21:36:47Z"));
            assertThat(r.stats().retried()).as("none of them is worth a retry").isZero();
            assertThat(r.failure()).isEmpty();
            assertThat(dead.purge()).isEqualTo(5);
        }
    }
}
