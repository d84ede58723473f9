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
    private final String table;
    private final boolean postgresReplica;
    private final AtomicBoolean writing = new AtomicBoolean(true);
    private final AtomicReference<Throwable> failed = new AtomicReference<>();
    private final Thread thread;

    private OrdersWorkload(String source, String replica, String table, boolean postgresReplica, long seed) {
        this.source = source;
        this.replica = replica;
        this.table = table;
        this.postgresReplica = postgresReplica;
        this.thread = Thread.ofPlatform().name("orders-load").start(() -> write(seed));
    }

    /** Creates the tables (the replica's {@code orders} on PostgreSQL) and starts writing. */
    static OrdersWorkload start(String source, String replica, long seed) {
        return start(source, replica, "orders", true, seed);
    }

    /**
     * Creates the tables, the replica's named {@code table} (and its audit table {@code <table>_applied},
     * which {@link #audit} fills) on PostgreSQL or MariaDB, and starts writing.
     */
    static OrdersWorkload start(String source, String replica, String table, boolean postgresReplica, long seed) {
        TestPostgres.execute(source, "CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, n int NOT NULL)");
        String ts = postgresReplica ? "timestamptz" : "datetime(6)";
        String text = postgresReplica ? "text" : "varchar(100)";
        TestPostgres.execute(replica, "CREATE TABLE " + table + " (id int PRIMARY KEY, status " + text + " NOT NULL, n int NOT NULL,"
                + " cqrs_revision int NOT NULL, cqrs_updated " + ts + " NOT NULL)");
        TestPostgres.execute(replica, "CREATE TABLE " + table + "_applied (seq " + (postgresReplica ? "bigserial" : "bigint AUTO_INCREMENT")
                + " PRIMARY KEY, pk int NOT NULL, revision int NOT NULL, action varchar(10) NOT NULL)");
        return new OrdersWorkload(source, replica, table, postgresReplica, seed);
    }

    /**
     * A handler recording every message the replica applies, in the same local transaction as the
     * row: the audit that shows no message was applied twice, whatever was redelivered.
     */
    static ReplicaHandler audit(String table) {
        String sql = "INSERT INTO " + table + "_applied (pk, revision, action) VALUES (?, ?, ?)";
        return (action, message, tx) -> {
            try (java.sql.PreparedStatement ps = tx.prepareStatement(sql)) {
                ps.setInt(1, message.instancePk().asInt());
                ps.setInt(2, message.revision());
                ps.setString(3, action.name());
                ps.executeUpdate();
            }
        };
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
        List<String> rows = TestPostgres.rows(source, "SELECT concat_ws('|', id, status, n) FROM orders ORDER BY id");
        assertThat(TestPostgres.rows(replica, "SELECT concat_ws('|', id, status, n) FROM " + table + " ORDER BY id")).as("seed %s", seed)
                .containsExactlyElementsOf(rows).hasSizeGreaterThan(30);
        assertThat(TestPostgres.rows(replica, "SELECT concat(id, ':', cqrs_revision) FROM " + table + " ORDER BY id")).as("seed %s", seed)
                .containsExactlyElementsOf(TestPostgres.rows(source, "SELECT pk || ':' || revision FROM annals.cqrs_revisions"
                        + " WHERE cqrs_id = '" + RabbitQueues.ORDERS + "' AND NOT deleted ORDER BY pk::int"));
    }

    /**
     * From the audit {@link #audit} kept: no message was applied twice, and each row's messages
     * were applied in the order of their revisions; returns how many were applied.
     */
    long assertAppliedOnceInOrder(Object seed) {
        assertThat(TestPostgres.rows(replica, "SELECT concat(pk, ':', revision, 'x', count(*)) FROM " + table + "_applied"
                + " GROUP BY pk, revision HAVING count(*) > 1")).as("messages applied twice (seed %s)", seed).isEmpty();
        List<String> applied = TestPostgres.rows(replica, "SELECT concat(pk, ':', revision) FROM " + table + "_applied ORDER BY seq");
        java.util.Map<Integer, Integer> last = new java.util.HashMap<>();
        for (String a : applied) {
            int pk = Integer.parseInt(a.substring(0, a.indexOf(':')));
            int rev = Integer.parseInt(a.substring(a.indexOf(':') + 1));
            Integer before = last.put(pk, rev);
            assertThat(before == null || before < rev).as("row %d: revision %d applied after %s (seed %s)", pk, rev, before, seed).isTrue();
        }
        return applied.size();
    }
}
