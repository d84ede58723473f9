package io.annals.replication;

import io.annals.capture.CaptureWorker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

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
        CaptureWorker capture = dbs.capture(src);
        String queue = rabbit.replicaQueue("load", RabbitQueues.ORDERS);
        OrdersWorkload load = OrdersWorkload.start(src, dst, 5);
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
            load.stop();
            try (CqrsMaster master = master(src, broker); CqrsReplica replica = replica(dst, broker, queue)) {
                capture.awaitCaughtUp(Duration.ofSeconds(30));
                assertThat(master.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
                assertThat(replica.awaitIdle(Duration.ofSeconds(60))).isTrue();
                load.assertReplicaEqualsSource(5);
                assertThat(replica.stats().deadLettered()).isZero();
            }
        }
    }

    private static CqrsMaster master(String src, String broker) {
        return CqrsProcess.master(src, broker, RabbitQueues.ORDERS);
    }

    private static CqrsReplica replica(String dst, String broker, String queue) {
        return CqrsProcess.replica(dst, broker, queue, RabbitQueues.ORDERS);
    }
}
