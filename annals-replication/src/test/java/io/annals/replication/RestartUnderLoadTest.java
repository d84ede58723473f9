package io.annals.replication;

import io.annals.capture.CaptureWorker;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * While the source keeps writing: the master and the replica are each restarted, and the broker is
 * cut off from both; in the end the replica equals the source, and each row carries the revision
 * the master gave its last change (nothing lost, nothing applied out of order).
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class RestartUnderLoadTest extends BrokerAndDatabases {


    @Test
    void restartsAndABrokerOutageUnderLoadLoseNothing() throws Exception {
        String src = dbs.create("load_src");
        String dst = dbs.create("load_dst");
        TestPostgres.execute(src, "CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, n int NOT NULL)");
        TestPostgres.execute(dst, "CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, n int NOT NULL,"
                + " cqrs_revision int NOT NULL, cqrs_updated timestamptz NOT NULL)");
        CaptureWorker capture = dbs.capture(src);
        String queue = rabbit.replicaQueue("load", "orders");
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread load = Thread.ofPlatform().name("load").start(() -> {
            Random r = new Random(5);
            try (Connection c = TestPostgres.connect(src); Statement s = c.createStatement()) {
                for (int i = 0; writing.get(); i++) {
                    int id = r.nextInt(200);
                    s.execute("INSERT INTO orders VALUES (" + id + ", 'new', 0) ON CONFLICT (id) DO UPDATE SET status = 'v" + i
                            + "', n = orders.n + 1");
                    if (r.nextInt(6) == 0) s.execute("DELETE FROM orders WHERE id = " + r.nextInt(200));
                    if (r.nextInt(50) == 0) s.execute("UPDATE orders SET n = n + 1 WHERE id % 7 = 0"); // bulk
                    Thread.sleep(1);
                }
            } catch (Throwable t) {
                failed.set(t);
            }
        });
        try (TcpProxy proxy = new TcpProxy(5672)) {
            String broker = "amqp://guest:guest@127.0.0.1:" + proxy.port();
            for (int round = 0; round < 3; round++) {
                try (CqrsMaster master = master(src, broker);
                     CqrsReplica replica = replica(dst, broker, queue)) {
                    Thread.sleep(700);
                    if (round == 1) {
                        proxy.cut();
                        Thread.sleep(700);
                        proxy.restore();
                    }
                    Thread.sleep(500);
                    assertThat(replica.failure()).isEmpty();
                    assertThat(master.published()).as("published in round %d", round).isPositive();
                }
            }
            writing.set(false);
            load.join();
            assertThat(failed.get()).isNull();
            try (CqrsMaster master = master(src, broker); CqrsReplica replica = replica(dst, broker, queue)) {
                capture.awaitCaughtUp(Duration.ofSeconds(30));
                assertThat(master.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
                assertThat(replica.awaitIdle(Duration.ofSeconds(60))).isTrue();
                assertThat(TestPostgres.rows(dst, "SELECT id, status, n FROM orders ORDER BY id"))
                        .containsExactlyElementsOf(TestPostgres.rows(src, "SELECT id, status, n FROM orders ORDER BY id"))
                        .hasSizeGreaterThan(50);
                assertThat(TestPostgres.rows(dst, "SELECT id || ':' || cqrs_revision FROM orders ORDER BY id"))
                        .containsExactlyElementsOf(TestPostgres.rows(src, "SELECT pk || ':' || revision FROM annals.cqrs_revisions"
                                + " WHERE cqrs_id = 'orders' AND NOT deleted ORDER BY pk::int"));
                assertThat(replica.stats().deadLettered()).isZero();
            }
        }
    }

    private static CqrsMaster master(String src, String broker) {
        return CqrsProcess.master(src, broker);
    }

    private static CqrsReplica replica(String dst, String broker, String queue) {
        return CqrsProcess.replica(dst, broker, queue);
    }
}
