package io.annals.replication;

import com.rabbitmq.client.ConnectionFactory;

import java.net.URISyntaxException;
import java.security.GeneralSecurityException;

/**
 * Connection factories for RabbitMQ as Annals uses it: from an AMQP URI, without the client's own
 * automatic recovery (a master or replica that loses its connection starts again from its
 * checkpoint or its unacknowledged messages, which is simpler to reason about than a half-recovered
 * channel).
 *
 * <pre>{@code
 * ConnectionFactory f = Broker.factory("amqp://guest:guest@127.0.0.1:5672/");
 * }</pre>
 */
public final class Broker {

    /** The broker a local RabbitMQ listens on, with its default user. */
    public static final String LOCAL = "amqp://guest:guest@127.0.0.1:5672/";

    private Broker() {
    }

    /**
     * A factory for {@code amqpUri}.
     *
     * @throws IllegalArgumentException on a URI that is not an AMQP URI, saying what one looks like
     */
    public static ConnectionFactory factory(String amqpUri) {
        ConnectionFactory f = new ConnectionFactory();
        try {
            f.setUri(amqpUri);
            // amqp://host/ names the vhost "" for the client; everybody writing it means RabbitMQ's default "/".
            if (f.getVirtualHost().isEmpty()) f.setVirtualHost("/");
        } catch (URISyntaxException | GeneralSecurityException | IllegalArgumentException e) {
            throw new IllegalArgumentException("Not an AMQP URI: '" + amqpUri + "' (" + e.getMessage() + "); expected e.g. " + LOCAL, e);
        }
        f.setAutomaticRecoveryEnabled(false);
        f.setTopologyRecoveryEnabled(false);
        f.setConnectionTimeout(5_000);
        f.setRequestedHeartbeat(10);
        return f;
    }
}
