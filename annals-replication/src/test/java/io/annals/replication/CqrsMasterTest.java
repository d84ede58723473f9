package io.annals.replication;

import com.rabbitmq.client.GetResponse;
import io.annals.capture.CaptureWorker;
import io.annals.changelog.ChangeLog;
import io.annals.replication.wire.CqrsMessage;
import io.annals.replication.wire.SignalType;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The master against the machine's RabbitMQ: what it publishes for each kind of change, and that a broker outage loses nothing. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class CqrsMasterTest extends BrokerAndDatabases {


    static CqrsEntity author() {
        return CqrsEntity.builder(RabbitQueues.AUTHOR).table("public.author").build();
    }

    static CqrsEntity book() {
        return CqrsEntity.builder(RabbitQueues.BOOK).table("public.book").fields("id", "title").field("author", "author_id")
                .previousData("title", "author").build();
    }

    static void schema(String url) {
        TestPostgres.execute(url, "CREATE TABLE author (id int PRIMARY KEY, name text NOT NULL, birth_date date)",
                "CREATE TABLE book (id int PRIMARY KEY, title text NOT NULL, author_id int REFERENCES author)");
    }

    @Test
    void everyCommittedChangeIsPublishedInCommitOrderWithDjangosRevisionsAndForm() throws Exception {
        String src = dbs.create("master_src");
        schema(src);
        TestPostgres.execute(src, "INSERT INTO author VALUES (1, 'Ada Lovelace', '1815-12-10')"); // before capture: a snapshot row
        CaptureWorker capture = dbs.capture(src);
        String queue = rabbit.replicaQueue("master", RabbitQueues.AUTHOR, RabbitQueues.BOOK);
        try (CqrsMaster master = CqrsMaster.builder(ChangeLog.at(src)).broker(Broker.LOCAL).entity(author()).entity(book())
                .feedName("m1").start()) {
            TestPostgres.execute(src,
                    "INSERT INTO author VALUES (2, 'Bob', NULL)",
                    "UPDATE author SET name = 'Ada King' WHERE id = 1",
                    "UPDATE author SET name = name || '!'",                       // bulk SQL: two rows in one statement
                    "INSERT INTO book VALUES (1, 'Notes', 1)",
                    "UPDATE book SET title = 'Sketch', author_id = 2 WHERE id = 1",
                    "DELETE FROM book WHERE id = 1",
                    "UPDATE author SET name = 'Zoë / Carol' WHERE id = 2");
            capture.awaitCaughtUp(Duration.ofSeconds(30));
            assertThat(master.awaitCaughtUp(Duration.ofSeconds(30))).isTrue();
            List<GetResponse> got = rabbit.take(queue, 9, Duration.ofSeconds(10));
            List<CqrsMessage> m = RabbitQueues.decode(got);
            List<String> seen = m.stream().map(x -> x.signalType() + " " + RabbitQueues.base(x.cqrsId()) + " " + x.instancePk() + " r" + x.revision()).toList();
            assertThat(seen.subList(0, 3)).containsExactly("SAVE author 1 r0", "SAVE author 2 r0", "SAVE author 1 r1");
            // The bulk UPDATE's two rows, in the order the statement changed them.
            assertThat(seen.subList(3, 5)).containsExactlyInAnyOrder("SAVE author 1 r2", "SAVE author 2 r1");
            assertThat(seen.subList(5, 9)).containsExactly("SAVE book 1 r0", "SAVE book 1 r1", "DELETE book 1 r2", "SAVE author 2 r2");
            assertThat(master.published()).isEqualTo(9);
            assertThat(got).allSatisfy(r -> {
                assertThat(r.getProps().getContentType()).isEqualTo("text/plain");
                assertThat(r.getProps().getDeliveryMode()).isEqualTo(2);
                assertThat(r.getProps().getHeaders()).isNull();
            });
            // The form of a Django master's body: key order, Python's str() of the commit time, a date, \\u escapes.
            String last = new String(got.get(8).getBody(), StandardCharsets.US_ASCII);
            assertThat(last).matches("\\{\"signal_type\":\"SAVE\",\"cqrs_id\":\"" + RabbitQueues.AUTHOR + "\",\"instance_data\":\\{\"cqrs_revision\":2,"
                    + "\"cqrs_updated\":\"\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(\\.\\d{6})?\\+00:00\",\"id\":2,\"name\":\"Zo\\\\u00eb \\\\/ Carol\","
                    + "\"birth_date\":null\\},\"previous_data\":null,\"instance_pk\":2,\"correlation_id\":null,\"retries\":0,"
                    + "\"expires\":\"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\+00:00\",\"meta\":\\{\\}\\}");
            assertThat(m.get(8).expires()).isBetween(m.get(8).updated().plus(Duration.ofDays(1)).minusSeconds(1),
                    m.get(8).updated().plus(Duration.ofDays(1)));
            assertThat(m.get(0).instanceData().get("birth_date").textValue()).isEqualTo("1815-12-10");
            // A foreign key travels under its field name; previous_data holds the tracked fields that changed.
            assertThat(m.get(5).instanceData().toString()).endsWith("\"id\":1,\"title\":\"Notes\",\"author\":1}");
            assertThat(m.get(5).previousData().toString()).isEqualTo("{\"title\":null,\"author\":null}");
            assertThat(m.get(6).previousData().toString()).isEqualTo("{\"title\":\"Notes\",\"author\":1}");
            assertThat(m.get(7).instanceData().fieldNames()).toIterable().containsExactly("id", "cqrs_revision", "cqrs_updated");
            assertThat(m.get(7).signalType()).isEqualTo(SignalType.DELETE);
        }
    }

    @Test
    void aSerializerJoinsARelatedTableIsRunAgainWhenItChangesAndIsSyncFilters() throws Exception {
        String src = dbs.create("master_query");
        schema(src);
        TestPostgres.execute(src, "ALTER TABLE book ADD COLUMN draft bool NOT NULL DEFAULT false");
        CaptureWorker capture = dbs.capture(src);
        String queue = rabbit.replicaQueue("query", RabbitQueues.BOOK);
        CqrsEntity book = CqrsEntity.builder(RabbitQueues.BOOK).table("book")
                .query("SELECT b.id, b.title, b.author_id AS author, a.name AS author_name, b.draft FROM book b"
                        + " JOIN author a ON a.id = b.author_id WHERE b.id = ?")
                .related("public.author", "SELECT id FROM public.book WHERE author_id = ?")
                .syncIf(row -> !row.path("draft").asBoolean())
                .build();
        try (CqrsMaster master = CqrsMaster.builder(ChangeLog.at(src)).broker(Broker.LOCAL).entity(book).feedName("q").start()) {
            // One transaction, so that the authors' changes never reach the master before the books exist.
            TestPostgres.transaction(src, "INSERT INTO author VALUES (1, 'Ada', NULL), (2, 'Bob', NULL)",
                    "INSERT INTO book VALUES (1, 'Notes', 1, false), (2, 'Sketch', 1, false), (3, 'Secret', 1, true), (4, 'Other', 2, false)");
            TestPostgres.execute(src, "UPDATE author SET name = 'Ada King' WHERE id = 1");
            capture.awaitCaughtUp(Duration.ofSeconds(30));
            assertThat(master.awaitCaughtUp(Duration.ofSeconds(30))).isTrue();
            List<CqrsMessage> m = RabbitQueues.decode(rabbit.take(queue, 5, Duration.ofSeconds(10)));
            // The serializer reads the row as it is when the master publishes; every change of a book or of its
            // author sends the book again with the next revision; the draft is never sent.
            java.util.Map<String, CqrsMessage> last = new java.util.LinkedHashMap<>();
            java.util.Map<String, Integer> revision = new java.util.HashMap<>();
            for (CqrsMessage x : m) {
                String pk = x.instancePk().asText();
                assertThat(x.revision()).as("revision of book %s", pk).isGreaterThan(revision.getOrDefault(pk, -1));
                revision.put(pk, x.revision());
                last.put(pk, x);
            }
            assertThat(last.keySet()).containsExactlyInAnyOrder("1", "2", "4");
            assertThat(last.get("1").instanceData().toString()).endsWith("\"id\":1,\"title\":\"Notes\",\"author\":1,"
                    + "\"author_name\":\"Ada King\",\"draft\":false}");
            assertThat(last.get("2").instanceData().get("author_name").asText()).isEqualTo("Ada King");
            assertThat(last.get("4").instanceData().get("author_name").asText()).isEqualTo("Bob");
            assertThat(revision.get("1")).as("book 1: its insert, and its author's insert and rename").isEqualTo(2);
        }
    }

    @Test
    void aTruncateDeletesEveryRowTheMasterKnowsAliveAndAKeyChangeIsADeleteAndASave() throws Exception {
        String src = dbs.create("master_truncate");
        TestPostgres.execute(src, "CREATE TABLE tag (id int PRIMARY KEY, label text)");
        CaptureWorker capture = dbs.capture(src);
        String queue = rabbit.replicaQueue("truncate", RabbitQueues.TAG);
        try (CqrsMaster master = CqrsMaster.builder(ChangeLog.at(src)).broker(Broker.LOCAL)
                .entity(CqrsEntity.builder(RabbitQueues.TAG).table("tag").build()).feedName("t").start()) {
            TestPostgres.execute(src, "INSERT INTO tag VALUES (1, 'a'), (2, 'b'), (3, 'c')", "DELETE FROM tag WHERE id = 2",
                    "UPDATE tag SET id = 4 WHERE id = 3", "TRUNCATE tag");
            capture.awaitCaughtUp(Duration.ofSeconds(30));
            assertThat(master.awaitCaughtUp(Duration.ofSeconds(30))).isTrue();
            List<CqrsMessage> m = RabbitQueues.decode(rabbit.take(queue, 8, Duration.ofSeconds(10)));
            assertThat(m.subList(0, 6)).extracting(x -> x.signalType() + " " + x.instancePk() + " r" + x.revision())
                    .containsExactly("SAVE 1 r0", "SAVE 2 r0", "SAVE 3 r0", "DELETE 2 r1", "DELETE 3 r1", "SAVE 4 r0");
            assertThat(m.subList(6, 8)).extracting(x -> x.signalType() + " " + x.instancePk() + " r" + x.revision())
                    .containsExactlyInAnyOrder("DELETE 1 r1", "DELETE 4 r1");
        }
    }

    @Test
    void withTheBrokerDownTheMasterWaitsAndLosesNothing() throws Exception {
        String src = dbs.create("master_outage");
        schema(src);
        CaptureWorker capture = dbs.capture(src);
        String queue = rabbit.replicaQueue("outage", RabbitQueues.AUTHOR);
        try (TcpProxy proxy = new TcpProxy(5672);
             CqrsMaster master = CqrsMaster.builder(ChangeLog.at(src)).broker("amqp://guest:guest@127.0.0.1:" + proxy.port() + "/")
                     .entity(author()).feedName("m2").backoff(Duration.ofMillis(50), Duration.ofMillis(300))
                     .confirmTimeout(Duration.ofSeconds(2)).batchSize(7).start()) {
            TestPostgres.execute(src, "INSERT INTO author SELECT g, 'a' || g FROM generate_series(1, 20) g");
            capture.awaitCaughtUp(Duration.ofSeconds(30));
            assertThat(master.awaitCaughtUp(Duration.ofSeconds(30))).isTrue();
            proxy.cut();
            TestPostgres.execute(src, "UPDATE author SET name = name || '+' WHERE id <= 10", "DELETE FROM author WHERE id > 15");
            capture.awaitCaughtUp(Duration.ofSeconds(30));
            assertThat(master.awaitCaughtUp(Duration.ofSeconds(2))).as("caught up while the broker is unreachable").isFalse();
            assertThat(master.failure()).isPresent();
            proxy.restore();
            assertThat(master.awaitCaughtUp(Duration.ofSeconds(30))).isTrue();
            List<CqrsMessage> m = RabbitQueues.decode(rabbit.take(queue, 35, Duration.ofSeconds(10)));
            // At least once: a batch cut off before its confirms may arrive twice, with the same revisions.
            assertThat(m.stream().map(x -> x.signalType() + " " + x.instancePk() + " r" + x.revision()).distinct())
                    .hasSize(35)
                    .contains("SAVE 1 r1", "SAVE 10 r1", "DELETE 16 r1", "DELETE 20 r1");
        }
    }

    @Test
    void badDeclarationsAreRefusedWithWhatToFix() throws Exception {
        String src = dbs.create("master_bad");
        TestPostgres.execute(src, "CREATE TABLE nokey (a int)", "CREATE TABLE t (id int PRIMARY KEY)");
        ChangeLog log = ChangeLog.at(src);
        log.migrate();
        assertThatThrownBy(() -> CqrsMaster.builder(log).broker(Broker.LOCAL)
                .entity(CqrsEntity.builder("x").table("public.missing").build()).start())
                .hasMessageContaining("public.missing does not exist");
        assertThatThrownBy(() -> CqrsMaster.builder(log).broker(Broker.LOCAL)
                .entity(CqrsEntity.builder("x").table("nokey").build()).start())
                .hasMessageContaining("has no primary key");
        assertThatThrownBy(() -> CqrsMaster.builder(log).broker(Broker.LOCAL)
                .entity(CqrsEntity.builder("x").table("t").fields("nope").build()).start())
                .hasMessageContaining("has no column nope; its columns are [id]");
        assertThatThrownBy(() -> CqrsEntity.builder("bad id!")).hasMessageContaining("A cqrs_id is 1 to 200 letters");
        assertThatThrownBy(() -> Broker.factory("http://x")).hasMessageContaining("Not an AMQP URI");
    }
}
