package io.annals.replication;

import io.annals.capture.CaptureWorker;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Master and replica each in a JVM of its own, killed with SIGKILL at random moments while the
 * source keeps writing, and restarted; in the end the replica equals the source and every row
 * carries the revision the master gave its last change: nothing lost, nothing applied out of order.
 * Graceful restarts and a broker outage: {@link RestartUnderLoadTest}.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class KillDashNineTest extends BrokerAndDatabases {

    @Test
    void killedAtRandomMomentsUnderLoadTheReplicaEndsEqualToTheSource() throws Exception {
        long seed = Long.getLong("annals.crash.seed", System.nanoTime());
        Random random = new Random(seed);
        String src = dbs.create("kill_src");
        String dst = dbs.create("kill_dst");
        TestPostgres.execute(src, "CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, n int NOT NULL)");
        TestPostgres.execute(dst, "CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, n int NOT NULL,"
                + " cqrs_revision int NOT NULL, cqrs_updated timestamptz NOT NULL)");
        CaptureWorker capture = dbs.capture(src);
        String queue = rabbit.replicaQueue("kill", "orders");
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread load = Thread.ofPlatform().name("load").start(() -> {
            Random r = new Random(seed + 1);
            try (Connection c = TestPostgres.connect(src); Statement s = c.createStatement()) {
                for (int i = 0; writing.get(); i++) {
                    int id = r.nextInt(150);
                    s.execute("INSERT INTO orders VALUES (" + id + ", 'new', 0) ON CONFLICT (id) DO UPDATE SET status = 'v" + i
                            + "', n = orders.n + 1");
                    if (r.nextInt(6) == 0) s.execute("DELETE FROM orders WHERE id = " + r.nextInt(150));
                    Thread.sleep(2);
                }
            } catch (Throwable t) {
                failed.set(t);
            }
        });
        Process master = start("master", src);
        Process replica = start("replica", dst, queue);
        try {
            for (int kill = 0; kill < 4; kill++) {
                Thread.sleep(random.nextInt(1_200, 2_500));
                int who = random.nextInt(3); // 0: master, 1: replica, 2: both
                if (who != 1) master = killAndRestart(master, "master", src);
                if (who != 0) replica = killAndRestart(replica, "replica", dst, queue);
            }
            writing.set(false);
            load.join();
            assertThat(failed.get()).isNull();
            capture.awaitCaughtUp(Duration.ofSeconds(30));
        } finally {
            for (Process p : List.of(master, replica)) {
                p.destroyForcibly();
                p.waitFor(30, TimeUnit.SECONDS);
            }
        }
        assertThat(Long.parseLong(TestPostgres.rows(dst, "SELECT count(*) FROM orders").get(0)))
                .as("rows the killed replicas applied before the end (seed %s)", seed).isPositive();
        try (CqrsMaster m = CqrsProcess.master(src, Broker.LOCAL); CqrsReplica r = CqrsProcess.replica(dst, Broker.LOCAL, queue)) {
            assertThat(m.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
            assertThat(r.awaitIdle(Duration.ofSeconds(60))).isTrue();
            assertThat(TestPostgres.rows(dst, "SELECT id, status, n FROM orders ORDER BY id")).as("seed %s", seed)
                    .containsExactlyElementsOf(TestPostgres.rows(src, "SELECT id, status, n FROM orders ORDER BY id"))
                    .hasSizeGreaterThan(30);
            assertThat(TestPostgres.rows(dst, "SELECT id || ':' || cqrs_revision FROM orders ORDER BY id")).as("seed %s", seed)
                    .containsExactlyElementsOf(TestPostgres.rows(src, "SELECT pk || ':' || revision FROM annals.cqrs_revisions"
                            + " WHERE cqrs_id = 'orders' AND NOT deleted ORDER BY pk::int"));
            assertThat(r.stats().deadLettered()).isZero();
        }
    }

    private static Process killAndRestart(Process p, String... args) throws Exception {
        p.destroyForcibly(); // SIGKILL: no shutdown hook, nothing acknowledged or committed on the way out
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return start(args);
    }

    private static Process start(String... args) throws Exception {
        Path log = Path.of("target", "kill-tests");
        Files.createDirectories(log);
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), CqrsProcess.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.resolve("killed-" + args[0] + ".log").toFile())).start();
    }
}
