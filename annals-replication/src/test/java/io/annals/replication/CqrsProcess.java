package io.annals.replication;

import io.annals.changelog.ChangeLog;

import java.time.Duration;

/**
 * A master or a replica of table {@code orders} in a JVM of its own, for {@link KillDashNineTest} to
 * kill: {@code CqrsProcess master <source url> <cqrs_id>} or {@code CqrsProcess replica <replica url> <queue> <cqrs_id>}.
 */
public final class CqrsProcess {

    private CqrsProcess() {
    }

    static CqrsMaster master(String source, String broker, String cqrsId) {
        return CqrsMaster.builder(ChangeLog.at(source)).broker(broker).entity(CqrsEntity.builder(cqrsId).table("orders").build())
                .feedName("orders").batchSize(50).backoff(Duration.ofMillis(50), Duration.ofMillis(500))
                .confirmTimeout(Duration.ofSeconds(3)).start();
    }

    static CqrsReplica replica(String replica, String broker, String queue, String cqrsId) {
        return CqrsReplica.builder(JdbcDataSource.of(replica)).broker(broker).queue(queue)
                .table(ReplicaTable.builder(cqrsId).table("orders").build()).workers(3).prefetch(50).start();
    }

    public static void main(String[] args) throws Exception {
        AutoCloseable running = args[0].equals("master") ? master(args[1], Broker.LOCAL, args[2])
                : replica(args[1], Broker.LOCAL, args[2], args[3]);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                running.close();
            } catch (Exception ignored) {
                // going away
            }
        }));
        Thread.sleep(Long.MAX_VALUE); // until killed
    }
}
