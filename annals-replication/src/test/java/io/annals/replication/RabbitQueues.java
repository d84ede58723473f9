package io.annals.replication;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import io.annals.replication.wire.CqrsMessage;
import io.annals.replication.wire.CqrsTopology;
import io.annals.replication.wire.CqrsWire;
import io.annals.testkit.Services;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeoutException;

/**
 * Queues on the machine's RabbitMQ for one test: unique names (tests never see each other's
 * messages), declared as a django-cqrs replica declares them, deleted on close.
 */
final class RabbitQueues implements AutoCloseable {

    /**
     * Unique to this test JVM: the exchange {@code cqrs} is shared by every build on the machine, so
     * a cqrs_id such as "author" would also route another build's messages into this one's queues.
     */
    static final String RUN = UUID.randomUUID().toString().substring(0, 6);
    static final String AUTHOR = "author_" + RUN;
    static final String BOOK = "book_" + RUN;
    static final String TAG = "tag_" + RUN;
    static final String ORDERS = "orders_" + RUN;
    static final String EVERYTHING = "everything_" + RUN;

    /** {@code cqrsId} without this JVM's suffix, for readable assertions. */
    static String base(String cqrsId) {
        return cqrsId.replace("_" + RUN, "");
    }

    final Connection connection;
    final Channel channel;
    private final List<String> queues = new ArrayList<>();

    RabbitQueues() throws IOException, TimeoutException {
        Services.requireRabbitMq();
        connection = Broker.factory(Broker.LOCAL).newConnection("annals test");
        channel = connection.createChannel();
    }

    /** A fresh replica queue (and its dead letters) bound for {@code cqrsIds}; returns its name. */
    String replicaQueue(String prefix, String... cqrsIds) throws IOException {
        String q = prefix + "_" + UUID.randomUUID().toString().substring(0, 8);
        CqrsTopology.declareReplicaQueues(channel, q, List.of(cqrsIds));
        queues.add(q);
        queues.add(CqrsTopology.deadLetterQueue(q));
        return q;
    }

    long count(String queue) throws IOException {
        return channel.queueDeclarePassive(queue).getMessageCount();
    }

    /** Takes (and acknowledges) the messages in {@code queue}, waiting up to {@code wait} for at least {@code atLeast}. */
    List<GetResponse> take(String queue, int atLeast, Duration wait) throws IOException, InterruptedException {
        List<GetResponse> out = new ArrayList<>();
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            GetResponse r = channel.basicGet(queue, true);
            if (r != null) {
                out.add(r);
                continue;
            }
            if (out.size() >= atLeast || System.nanoTime() > deadline) return out;
            Thread.sleep(20);
        }
    }

    static List<CqrsMessage> decode(List<GetResponse> responses) {
        return responses.stream().map(r -> CqrsWire.decode(r.getBody())).toList();
    }

    void publish(String routingKey, byte[] body) throws IOException {
        channel.basicPublish(CqrsTopology.EXCHANGE, routingKey, CqrsTopology.properties(), body);
    }

    @Override
    public void close() throws IOException, TimeoutException {
        for (String q : queues) channel.queueDelete(q);
        connection.close();
    }
}
