package io.annals.replication;

import io.annals.changelog.ChangeLog;

import java.time.Duration;

/**
 * A master or a replica of table {@code orders} in a JVM of its own, for the kill tests to kill:
 * {@code CqrsProcess master <source url> <cqrs_id>} or {@code CqrsProcess replica <replica url> <queue> <cqrs_id> [<table>]};
 * a replica given its table records what it applies ({@link OrdersWorkload#audit}).
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
        return replica(replica, broker, queue, ReplicaTable.builder(cqrsId).table("orders").build());
    }

    /** A replica of {@code cqrsId} into {@code table}, recording each message it applies in {@code <table>_applied}. */
    static CqrsReplica audited(String replica, String broker, String queue, String cqrsId, String table) {
        return replica(replica, broker, queue, ReplicaTable.builder(cqrsId).table(table).handler(OrdersWorkload.audit(table)).build());
    }

    private static CqrsReplica replica(String replica, String broker, String queue, ReplicaTable table) {
        return CqrsReplica.builder(JdbcDataSource.of(replica)).broker(broker).queue(queue).table(table).workers(3).prefetch(50).start();
    }

    public static void main(String[] args) throws Exception {
        AutoCloseable running = switch (args[0]) {
            case "master" -> master(args[1], Broker.LOCAL, args[2]);
            case "replica" -> args.length > 4 ? audited(args[1], Broker.LOCAL, args[2], args[3], args[4])
                    : replica(args[1], Broker.LOCAL, args[2], args[3]);
            default -> throw new IllegalArgumentException("master or replica, not " + args[0]);
        };
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
