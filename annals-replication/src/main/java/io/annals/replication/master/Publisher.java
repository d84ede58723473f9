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
    /** Messages sent since the last confirm. */
    private int sent;

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
        for (CqrsMessage m : messages) send(m, queue);
        confirm(meanwhile);
    }

    /**
     * Publishes one message of a batch now, without waiting: the broker persists it while the
     * caller makes the next ones. {@link #confirm} ends the batch. A failure closes the
     * connection and is thrown; the caller tries the whole batch again.
     */
    public void send(CqrsMessage m, String queue) throws IOException, TimeoutException {
        try {
            Channel ch = channel();
            String key = queue == null ? CqrsTopology.routingKey(m.cqrsId()) : CqrsTopology.queueRoutingKey(queue, m.cqrsId());
            ch.basicPublish(CqrsTopology.EXCHANGE, key, CqrsTopology.properties(), CqrsWire.encode(m));
            sent++;
        } catch (IOException | TimeoutException | RuntimeException e) {
            disconnect();
            throw e;
        }
    }

    /**
     * Ends a batch of {@link #send}s: runs {@code meanwhile}, then waits until the broker has
     * confirmed every message sent since the last {@code confirm}, or throws (the connection is
     * then closed, and the caller tries the batch again).
     */
    public void confirm(Meanwhile meanwhile) throws IOException, TimeoutException, InterruptedException, java.sql.SQLException {
        int waiting = sent;
        sent = 0;
        if (waiting == 0) {
            meanwhile.run();
            return;
        }
        try {
            meanwhile.run();
            channel.waitForConfirmsOrDie(confirmTimeout.toMillis());
        } catch (IOException | TimeoutException | RuntimeException | java.sql.SQLException e) {
            disconnect();
            throw e;
        }
    }

    /** Forgets a batch that failed half way through its {@link #send}s: closes the connection, the next send opens another. */
    public void abandon() {
        disconnect();
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
        sent = 0;
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
        sent = 0;
    }
}
