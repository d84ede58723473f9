package io.annals.replication.wire;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;

import java.io.IOException;
import java.util.Collection;
import java.util.Map;
import java.util.Objects;

/**
 * Where django-cqrs messages go on RabbitMQ: the topic exchange {@code cqrs}, a replica's queue and
 * its {@code dead_letter_<queue>}, their bindings and routing keys, and the message properties. The
 * one owner of these names, so that master, replica and tools cannot disagree.
 *
 * <pre>{@code
 * CqrsTopology.declareExchange(channel);
 * CqrsTopology.declareReplicaQueues(channel, "orders_service", List.of("author", "book"));
 * channel.basicPublish(CqrsTopology.EXCHANGE, CqrsTopology.routingKey("author"),
 *         CqrsTopology.properties(), CqrsWire.encode(message));
 * }</pre>
 */
public final class CqrsTopology {

    /** The exchange every master publishes to and every replica queue is bound to. */
    public static final String EXCHANGE = "cqrs";
    /** How long a dead letter stays in its queue, as django-cqrs sets it: 10 days, in milliseconds. */
    public static final String DEAD_LETTER_EXPIRATION = "864000000";
    /** The header that carries why a message was dead-lettered (a Django replica ignores headers). */
    public static final String ERROR_HEADER = "x-annals-error";

    private static final AMQP.BasicProperties PROPERTIES = new AMQP.BasicProperties.Builder()
            .contentType("text/plain").deliveryMode(2).build();

    private CqrsTopology() {
    }

    /** The routing key of a SAVE, a DELETE or a broadcast SYNC: the {@code cqrs_id}. */
    public static String routingKey(String cqrsId) {
        return Objects.requireNonNull(cqrsId, "cqrsId");
    }

    /** The routing key of a SYNC aimed at one replica's queue, and of a replica's own retries. */
    public static String queueRoutingKey(String queue, String cqrsId) {
        return "cqrs." + queue + "." + cqrsId;
    }

    /** The dead-letter queue of {@code queue}. */
    public static String deadLetterQueue(String queue) {
        return "dead_letter_" + queue;
    }

    /** The routing key of a dead letter of {@code queue}. */
    public static String deadLetterRoutingKey(String queue, String cqrsId) {
        return "cqrs." + deadLetterQueue(queue) + "." + cqrsId;
    }

    /** A message's properties: {@code content_type=text/plain}, {@code delivery_mode=2}, nothing else. */
    public static AMQP.BasicProperties properties() {
        return PROPERTIES;
    }

    /**
     * A dead letter's properties: those of a message, plus {@code expiration} as django-cqrs sets
     * it and, where known, the reason in the header {@value #ERROR_HEADER}.
     */
    public static AMQP.BasicProperties deadLetterProperties(String error) {
        AMQP.BasicProperties.Builder b = new AMQP.BasicProperties.Builder().contentType("text/plain").deliveryMode(2)
                .expiration(DEAD_LETTER_EXPIRATION);
        if (error != null) b.headers(Map.of(ERROR_HEADER, error.length() > 4000 ? error.substring(0, 4000) + "..." : error));
        return b.build();
    }

    /** Declares the exchange: topic, durable, no arguments (a master does so before publishing). */
    public static void declareExchange(Channel channel) throws IOException {
        channel.exchangeDeclare(EXCHANGE, "topic", true, false, null);
    }

    /**
     * Declares a replica's queue and dead-letter queue (durable, not exclusive, no arguments) and
     * binds {@code <cqrs_id>} and {@code cqrs.<queue>.<cqrs_id>} to the queue and
     * {@code cqrs.dead_letter_<queue>.<cqrs_id>} to the dead letters, for each {@code cqrs_id}.
     */
    public static void declareReplicaQueues(Channel channel, String queue, Collection<String> cqrsIds) throws IOException {
        declareExchange(channel);
        channel.queueDeclare(queue, true, false, false, null);
        String dead = deadLetterQueue(queue);
        channel.queueDeclare(dead, true, false, false, null);
        for (String id : cqrsIds) {
            channel.queueBind(queue, EXCHANGE, routingKey(id));
            channel.queueBind(queue, EXCHANGE, queueRoutingKey(queue, id));
            channel.queueBind(dead, EXCHANGE, deadLetterRoutingKey(queue, id));
        }
    }
}
