package io.annals.replication;

import io.annals.capture.CaptureWorker;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Master and replica each in a JVM of its own, killed with SIGKILL at random moments while the
 * source keeps writing, and restarted; in the end the replica equals the source and every row
 * carries the revision the master gave its last change: nothing lost, nothing applied out of order.
 * The replica applies into PostgreSQL or MariaDB; on MariaDB an audit table written in each message's
 * transaction shows that no message was applied twice. Graceful restarts and a broker outage:
 * {@link RestartUnderLoadTest}, {@link BrokerRestartUnderLoadTest}.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class KillDashNineTest extends BrokerAndDatabases {

    @Test
    void killedAtRandomMomentsUnderLoadTheReplicaEndsEqualToTheSource() throws Exception {
        String dst = dbs.create("kill_dst");
        killedAtRandomMoments(dst, "orders", true);
    }

    /** The same with the replica applying into MariaDB (a unique table in the machine's database {@code test}). */
    @Test
    void killedAtRandomMomentsUnderLoadAMariaDbReplicaEndsEqualToTheSource() throws Exception {
        try (ReplicaTarget maria = ReplicaTarget.of("mariadb")) {
            String table = maria.table("orders");
            maria.dropsAtEnd(table + "_applied");
            killedAtRandomMoments(maria.url, table, false);
        }
    }

    private void killedAtRandomMoments(String dst, String table, boolean postgres) throws Exception {
        long seed = Long.getLong("annals.crash.seed", System.nanoTime());
        Random random = new Random(seed);
        String src = dbs.create("kill_src");
        CaptureWorker capture = dbs.capture(src);
        String queue = rabbit.replicaQueue("kill", RabbitQueues.ORDERS);
        OrdersWorkload load = OrdersWorkload.start(src, dst, table, postgres, seed + 1);
        // On PostgreSQL the replica takes its one-statement path, which a handler would leave; on MariaDB
        // there is one path, and the audit handler records what was applied.
        String[] replicaArgs = postgres ? new String[] {"replica", dst, queue, RabbitQueues.ORDERS}
                : new String[] {"replica", dst, queue, RabbitQueues.ORDERS, table};
        Process master = start("master", src, RabbitQueues.ORDERS);
        Process replica = start(replicaArgs);
        try {
            // On a loaded machine the JVMs take seconds to start: kill only once rows flow, so that a kill hits work in progress.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (Long.parseLong(TestPostgres.rows(dst, "SELECT count(*) FROM " + table).get(0)) == 0 && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            for (int kill = 0; kill < 4; kill++) {
                Thread.sleep(random.nextInt(1_200, 2_500));
                int who = postgres ? random.nextInt(3) : random.nextInt(1, 3); // 0: master, 1: replica, 2: both
                if (who != 1) master = killAndRestart(master, "master", src, RabbitQueues.ORDERS);
                if (who != 0) replica = killAndRestart(replica, replicaArgs);
            }
            load.stop();
            capture.awaitCaughtUp(Duration.ofSeconds(30));
        } finally {
            for (Process p : List.of(master, replica)) {
                p.destroyForcibly();
                p.waitFor(30, TimeUnit.SECONDS);
            }
        }
        assertThat(Long.parseLong(TestPostgres.rows(dst, "SELECT count(*) FROM " + table).get(0)))
                .as("rows the killed replicas applied before the end (seed %s)", seed).isPositive();
        try (CqrsMaster m = CqrsProcess.master(src, Broker.LOCAL, RabbitQueues.ORDERS);
             CqrsReplica r = postgres ? CqrsProcess.replica(dst, Broker.LOCAL, queue, RabbitQueues.ORDERS)
                     : CqrsProcess.audited(dst, Broker.LOCAL, queue, RabbitQueues.ORDERS, table)) {
            assertThat(m.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
            assertThat(r.awaitIdle(Duration.ofSeconds(60))).isTrue();
            load.assertReplicaEqualsSource(seed);
            if (!postgres) assertThat(load.assertAppliedOnceInOrder(seed)).as("messages applied (seed %s)", seed).isPositive();
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
