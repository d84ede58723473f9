package io.annals.replication;

import io.annals.replication.wire.CqrsMessage;
import io.annals.replication.wire.CqrsTopology;
import io.annals.replication.wire.SignalType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.annals.replication.Messages.at;
import static io.annals.replication.Messages.author;
import static io.annals.replication.Messages.body;
import static io.annals.replication.Messages.delete;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A replica applying a queue that was filled before it started, so that its worker takes many
 * messages at once into one local transaction: a poison message among them is retried and
 * dead-lettered alone, the others are applied; several versions of a row end at the newest.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ReplicaBatchTest {

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

    @ParameterizedTest
    @ValueSource(strings = {"postgres", "mariadb"})
    void aPoisonMessageInABatchIsDeadLetteredAloneAndTheOthersAreApplied(String kind) throws Exception {
        target = ReplicaTarget.of(kind);
        String t = target.table("authors");
        target.execute("CREATE TABLE " + t + " (id int PRIMARY KEY, full_name varchar(100) NOT NULL, birth_date date,"
                + " cqrs_revision int NOT NULL, cqrs_updated " + target.timestamp() + " NOT NULL,"
                + " CONSTRAINT " + t + "_no_poison CHECK (full_name <> 'poison'))");
        String queue = rabbit.replicaQueue("batch", RabbitQueues.AUTHOR);
        String key = CqrsTopology.queueRoutingKey(queue, RabbitQueues.AUTHOR);
        List<String> expected = new ArrayList<>();
        for (int id = 1; id <= 200; id++) {
            if (id == 100) {
                rabbit.publish(key, body(author(SignalType.SAVE, id, 0, at(0), "poison"))); // violates the CHECK
                continue;
            }
            rabbit.publish(key, body(author(SignalType.SAVE, id, 0, at(0), "a" + id)));
            if (id % 10 == 0) {
                rabbit.publish(key, body(author(SignalType.SAVE, id, 1, at(1), "a" + id + " v1")));
                rabbit.publish(key, body(author(SignalType.SAVE, id, 0, at(0), "a" + id))); // a late duplicate
            }
            if (id % 25 == 0) rabbit.publish(key, body(delete(RabbitQueues.AUTHOR, id, 2, at(2))));
            else expected.add(id + " | a" + id + (id % 10 == 0 ? " v1 | 1" : " | 0"));
        }
        try (CqrsReplica r = CqrsReplica.builder(target.dataSource()).broker(Broker.LOCAL).queue(queue)
                .table(ReplicaTable.builder(RabbitQueues.AUTHOR).table(t).rename("name", "full_name").build())
                .tombstoneTable(target.table("tombstones")).maxRetries(1).retryDelay(Duration.ofMillis(20), Duration.ofMillis(100))
                .workers(1).prefetch(500).start();
             CqrsDeadLetters dead = CqrsDeadLetters.open(Broker.factory(Broker.LOCAL), queue)) {
            assertThat(r.awaitIdle(Duration.ofSeconds(60))).isTrue();
            assertThat(target.rows("SELECT id, full_name, cqrs_revision FROM " + t + " ORDER BY id")).containsExactlyElementsOf(expected);
            assertThat(r.stats().retried()).isEqualTo(1);
            assertThat(r.stats().deadLettered()).isEqualTo(1);
            List<CqrsDeadLetters.DeadLetter> letters = dead.list(10);
            assertThat(letters).hasSize(1);
            assertThat(letters.get(0).error()).contains(RabbitQueues.AUTHOR + " 100 (revision 0) could not be applied", "(after 1 retries)");
            CqrsMessage poison = RabbitQueues.decode(rabbit.take(CqrsTopology.deadLetterQueue(queue), 1, Duration.ofSeconds(10))).get(0);
            assertThat(poison.instanceData().path("name").asText()).isEqualTo("poison");
        }
    }
}
