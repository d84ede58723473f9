package io.annals.replication;

import io.annals.testkit.TestPostgres;

import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Table {@code orders} at the source and its replica, a thread that keeps writing to the source
 * (upserts, deletes, a bulk UPDATE now and then) until stopped, and the end check: the replica
 * equals the source, and each row carries the revision the master gave its last change.
 */
final class OrdersWorkload {

    private final String source;
    private final String replica;
    private final AtomicBoolean writing = new AtomicBoolean(true);
    private final AtomicReference<Throwable> failed = new AtomicReference<>();
    private final Thread thread;

    private OrdersWorkload(String source, String replica, long seed) {
        this.source = source;
        this.replica = replica;
        this.thread = Thread.ofPlatform().name("orders-load").start(() -> write(seed));
    }

    /** Creates the tables and starts writing. */
    static OrdersWorkload start(String source, String replica, long seed) {
        TestPostgres.execute(source, "CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, n int NOT NULL)");
        TestPostgres.execute(replica, "CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, n int NOT NULL,"
                + " cqrs_revision int NOT NULL, cqrs_updated timestamptz NOT NULL)");
        return new OrdersWorkload(source, replica, seed);
    }

    private void write(long seed) {
        Random r = new Random(seed);
        try (Connection c = TestPostgres.connect(source); Statement s = c.createStatement()) {
            for (int i = 0; writing.get(); i++) {
                int id = r.nextInt(150);
                s.execute("INSERT INTO orders VALUES (" + id + ", 'new', 0) ON CONFLICT (id) DO UPDATE SET status = 'v" + i
                        + "', n = orders.n + 1");
                if (r.nextInt(6) == 0) s.execute("DELETE FROM orders WHERE id = " + r.nextInt(150));
                if (r.nextInt(50) == 0) s.execute("UPDATE orders SET n = n + 1 WHERE id % 7 = 0"); // bulk
                Thread.sleep(2);
            }
        } catch (Throwable t) {
            failed.set(t);
        }
    }

    /** Stops writing; fails if writing failed. */
    void stop() throws InterruptedException {
        writing.set(false);
        thread.join();
        assertThat(failed.get()).as("the workload").isNull();
    }

    /** The replica has the source's rows, each with the revision the master gave its last change. */
    void assertReplicaEqualsSource(Object seed) {
        List<String> rows = TestPostgres.rows(source, "SELECT id, status, n FROM orders ORDER BY id");
        assertThat(TestPostgres.rows(replica, "SELECT id, status, n FROM orders ORDER BY id")).as("seed %s", seed)
                .containsExactlyElementsOf(rows).hasSizeGreaterThan(30);
        assertThat(TestPostgres.rows(replica, "SELECT id || ':' || cqrs_revision FROM orders ORDER BY id")).as("seed %s", seed)
                .containsExactlyElementsOf(TestPostgres.rows(source, "SELECT pk || ':' || revision FROM annals.cqrs_revisions"
                        + " WHERE cqrs_id = '" + RabbitQueues.ORDERS + "' AND NOT deleted ORDER BY pk::int"));
    }
}
