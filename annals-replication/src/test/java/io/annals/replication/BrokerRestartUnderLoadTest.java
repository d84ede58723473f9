package io.annals.replication;

import io.annals.capture.CaptureWorker;
import io.annals.testkit.PrivateRabbitMq;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real broker restart under load: the master publishes the source's changes and the replica
 * applies them through a RabbitMQ node of the test's own ({@link PrivateRabbitMq}; the machine's
 * shared broker is never touched), which is stopped for a few seconds and started again, twice,
 * while the source keeps writing. In the end the replica equals the source row by row with the
 * master's revisions (nothing lost), and the replica's audit shows no message applied twice and
 * each row's messages applied in revision order.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class BrokerRestartUnderLoadTest {

    @Test
    void theBrokerStoppedAndStartedTwiceUnderLoadLosesNothingAndAppliesNothingTwice() throws Exception {
        long seed = Long.getLong("annals.crash.seed", System.nanoTime());
        try (PrivateRabbitMq broker = PrivateRabbitMq.start(); Databases dbs = new Databases()) {
            String src = dbs.create("restart_src");
            String dst = dbs.create("restart_dst");
            CaptureWorker capture = dbs.capture(src);
            String queue = "restart_" + RabbitQueues.RUN;
            OrdersWorkload load = OrdersWorkload.start(src, dst, "orders", true, seed);
            try (CqrsReplica replica = CqrsProcess.audited(dst, broker.uri(), queue, RabbitQueues.ORDERS, "orders");
                 CqrsMaster master = CqrsProcess.master(src, broker.uri(), RabbitQueues.ORDERS)) {
                for (int restart = 0; restart < 2; restart++) {
                    awaitPublishing(master, 1_500);
                    long beforeStop = replica.stats().applied();
                    broker.stop();
                    Thread.sleep(3_000); // the source keeps writing; the master's batches fail and wait
                    broker.restart();
                    awaitPublishing(master, 1_000);
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                    while (replica.stats().applied() <= beforeStop && System.nanoTime() < deadline) Thread.sleep(100);
                    assertThat(replica.stats().applied()).as("the replica applies again after restart %d (seed %s)", restart + 1, seed)
                            .isGreaterThan(beforeStop);
                    assertThat(replica.failure()).isEmpty();
                }
                load.stop();
                capture.awaitCaughtUp(Duration.ofSeconds(30));
                assertThat(master.awaitCaughtUp(Duration.ofSeconds(90))).isTrue();
                assertThat(replica.awaitIdle(Duration.ofSeconds(90))).isTrue();
                load.assertReplicaEqualsSource(seed);
                assertThat(load.assertAppliedOnceInOrder(seed)).as("messages applied (seed %s)", seed).isPositive();
                assertThat(replica.stats().deadLettered()).isZero();
            }
        }
    }

    /** Waits until the master has published more than it had, then lets it run {@code millis} longer under load. */
    private static void awaitPublishing(CqrsMaster master, long millis) throws InterruptedException {
        long before = master.published();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (master.published() <= before && System.nanoTime() < deadline) Thread.sleep(50);
        assertThat(master.published()).as("the master publishes").isGreaterThan(before);
        Thread.sleep(millis);
    }
}
