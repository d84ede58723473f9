package io.annals.replication.master;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.annals.replication.wire.CqrsMessage;
import io.annals.replication.wire.CqrsTopology;
import io.annals.replication.wire.CqrsWire;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeoutException;

/**
 * Publishes batches with publisher confirms and persistent messages, and returns only once the
 * broker has confirmed every message of the batch; any failure closes the connection (the next
 * batch opens a new one) and is thrown, so that the caller keeps its checkpoint where it was and
 * tries the batch again. Not thread-safe: one publisher per feed thread.
 *
 * <pre>{@code
 * try (Publisher p = new Publisher(factory, "cqrs-master")) {
 *     p.publish(messages, null);                 // routing key: each cqrs_id
 * }
 * }</pre>
 */
public final class Publisher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Publisher.class);

    private final ConnectionFactory factory;
    private final String name;
    private final Duration confirmTimeout;
    private Connection connection;
    private Channel channel;

    /** A publisher that connects through {@code factory} when it first publishes. */
    public Publisher(ConnectionFactory factory, String name, Duration confirmTimeout) {
        this.factory = factory;
        this.name = name;
        this.confirmTimeout = confirmTimeout;
    }

    /**
     * Publishes {@code messages} in order, each to its {@code cqrs_id}'s routing key, or to
     * {@code cqrs.<queue>.<cqrs_id>} when {@code queue} is given, and waits for the broker's confirms.
     */
    public void publish(List<CqrsMessage> messages, String queue)
            throws IOException, TimeoutException, InterruptedException, java.sql.SQLException {
        publish(messages, queue, () -> { });
    }

    /** Work to do while the broker persists a batch, before its confirms are awaited. */
    @FunctionalInterface
    public interface Meanwhile {
        void run() throws java.sql.SQLException;
    }

    /**
     * Publishes as {@link #publish(List, String)} does, and runs {@code meanwhile} (the master's
     * own writes) while the broker persists the batch, before waiting for its confirms: the two
     * waits overlap instead of adding up.
     */
    public void publish(List<CqrsMessage> messages, String queue, Meanwhile meanwhile)
            throws IOException, TimeoutException, InterruptedException, java.sql.SQLException {
        if (messages.isEmpty()) {
            meanwhile.run();
            return;
        }
        try {
            Channel ch = channel();
            for (CqrsMessage m : messages) {
                String key = queue == null ? CqrsTopology.routingKey(m.cqrsId()) : CqrsTopology.queueRoutingKey(queue, m.cqrsId());
                ch.basicPublish(CqrsTopology.EXCHANGE, key, CqrsTopology.properties(), CqrsWire.encode(m));
            }
            meanwhile.run();
            ch.waitForConfirmsOrDie(confirmTimeout.toMillis());
        } catch (IOException | TimeoutException | RuntimeException e) {
            disconnect();
            throw e;
        }
    }

    private Channel channel() throws IOException, TimeoutException {
        if (channel != null && channel.isOpen()) return channel;
        disconnect();
        connection = factory.newConnection(name);
        channel = connection.createChannel();
        channel.confirmSelect();
        CqrsTopology.declareExchange(channel);
        return channel;
    }

    private void disconnect() {
        if (connection != null) {
            try {
                connection.abort(2_000);
            } catch (RuntimeException e) {
                log.debug("Closing a broken broker connection: {}", e.getMessage());
            }
        }
        connection = null;
        channel = null;
    }

    @Override
    public void close() {
        if (connection != null && connection.isOpen()) {
            try {
                connection.close(5_000);
            } catch (IOException | RuntimeException e) {
                log.debug("Closing the broker connection: {}", e.getMessage());
            }
        }
        connection = null;
        channel = null;
    }
}
