package io.annals.replication;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import io.annals.changelog.Json;
import io.annals.replication.wire.CqrsMessage;
import io.annals.replication.wire.CqrsTopology;
import io.annals.replication.wire.CqrsWire;
import io.annals.replication.wire.WireException;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;

/**
 * A replica's dead letters ({@code dead_letter_<queue>}): list them with their errors, dump them as
 * JSON lines, send them back to the replica after a fix, or purge them. The same queue and body as
 * django-cqrs' {@code cqrs_dead_letters}, so it works on a Django replica's queue too.
 *
 * <pre>{@code
 * try (CqrsDeadLetters dl = CqrsDeadLetters.open(Broker.factory(Broker.LOCAL), "orders_service")) {
 *     for (CqrsDeadLetters.DeadLetter d : dl.list(20)) System.out.println(d.cqrsId() + " " + d.error());
 *     dl.retry();                                  // after fixing the cause
 * }
 * }</pre>
 */
public final class CqrsDeadLetters implements AutoCloseable {

    /**
     * One dead letter.
     *
     * <pre>{@code
     * for (DeadLetter d : deadLetters.list(10)) System.out.println(d.cqrsId() + " " + d.pk() + ": " + d.error());
     * }</pre>
     *
     * @param cqrsId   its {@code cqrs_id}, or null for a body that is not a django-cqrs message
     * @param pk       its {@code instance_pk} as JSON, or null
     * @param retries  its retry count
     * @param error    why it was dead-lettered, when an Annals replica did it (null for a Django replica's)
     * @param body     the body as it is in the queue
     */
    public record DeadLetter(String cqrsId, String pk, int retries, String error, byte[] body) {
    }

    private final Connection connection;
    private final String queue;
    private final Clock clock;

    private CqrsDeadLetters(Connection connection, String queue, Clock clock) {
        this.connection = connection;
        this.queue = queue;
        this.clock = clock;
    }

    /** The dead letters of the replica queue {@code queue}. */
    public static CqrsDeadLetters open(ConnectionFactory broker, String queue) {
        try {
            Connection c = broker.newConnection("annals dead letters " + queue);
            try (Channel ch = c.createChannel()) {
                ch.queueDeclarePassive(CqrsTopology.deadLetterQueue(queue));
            } catch (IOException e) {
                c.abort();
                throw new ReplicationException("There is no queue " + CqrsTopology.deadLetterQueue(queue) + " on the broker; is '"
                        + queue + "' the replica's queue name?", e);
            }
            return new CqrsDeadLetters(c, queue, Clock.systemUTC());
        } catch (IOException | TimeoutException e) {
            throw new ReplicationException("Could not connect to the broker: " + e.getMessage(), e);
        }
    }

    /** How many dead letters there are. */
    public long count() throws IOException, TimeoutException {
        try (Channel ch = connection.createChannel()) {
            return ch.queueDeclarePassive(CqrsTopology.deadLetterQueue(queue)).getMessageCount();
        }
    }

    /** The first {@code limit} dead letters, left in the queue. */
    public List<DeadLetter> list(int limit) throws IOException, TimeoutException {
        List<DeadLetter> out = new ArrayList<>();
        browse(limit, out::add);
        return out;
    }

    /**
     * Writes every dead letter as a JSON line ({@code {"error": ..., "body": {...}}}, the body as
     * text when it is not JSON), leaving them in the queue; one at a time, so memory stays bounded.
     *
     * @return how many were written
     */
    public long dump(Writer out) throws IOException, TimeoutException {
        long[] n = {0};
        browse(Long.MAX_VALUE, d -> {
            ObjectNode line = Json.mapper().createObjectNode();
            line.put("error", d.error());
            try {
                line.set("body", Json.mapper().readTree(d.body()));
            } catch (IOException e) {
                line.put("body", new String(d.body(), StandardCharsets.UTF_8));
            }
            out.write(Json.mapper().writeValueAsString(line));
            out.write('\n');
            n[0]++;
        });
        out.flush();
        return n[0];
    }

    /**
     * Sends every dead letter back to the replica ({@code cqrs.<queue>.<cqrs_id>}) with its retries
     * reset to 0 and, if it has expired, a new expiry a day from now. Each is removed from the dead
     * letters only once the broker confirmed its copy. A body that is not a django-cqrs message
     * stays.
     *
     * @return how many were sent back
     */
    public long retry() throws IOException, TimeoutException, InterruptedException {
        long sent = 0;
        try (Channel ch = connection.createChannel()) {
            ch.confirmSelect();
            long n = ch.queueDeclarePassive(CqrsTopology.deadLetterQueue(queue)).getMessageCount();
            for (long i = 0; i < n; i++) {
                GetResponse r = ch.basicGet(CqrsTopology.deadLetterQueue(queue), false);
                if (r == null) break;
                CqrsMessage m;
                try {
                    m = CqrsWire.decode(r.getBody());
                } catch (WireException e) {
                    continue; // stays unacknowledged: back in the queue when the channel closes
                }
                m = m.withRetries(0);
                if (m.expiredAt(clock.instant())) m = m.withExpires(clock.instant().plus(Duration.ofDays(1)));
                ch.basicPublish(CqrsTopology.EXCHANGE, CqrsTopology.queueRoutingKey(queue, m.cqrsId()), CqrsTopology.properties(),
                        CqrsWire.encode(m));
                ch.waitForConfirmsOrDie(30_000);
                ch.basicAck(r.getEnvelope().getDeliveryTag(), false);
                sent++;
            }
        }
        return sent;
    }

    /** Deletes every dead letter; returns how many there were. */
    public long purge() throws IOException, TimeoutException {
        try (Channel ch = connection.createChannel()) {
            return ch.queuePurge(CqrsTopology.deadLetterQueue(queue)).getMessageCount();
        }
    }

    private interface Sink {
        void accept(DeadLetter d) throws IOException;
    }

    /** Reads up to {@code limit} dead letters without acknowledging them: closing the channel puts them all back. */
    private void browse(long limit, Sink sink) throws IOException, TimeoutException {
        try (Channel ch = connection.createChannel()) {
            long n = Math.min(limit, ch.queueDeclarePassive(CqrsTopology.deadLetterQueue(queue)).getMessageCount());
            for (long i = 0; i < n; i++) {
                GetResponse r = ch.basicGet(CqrsTopology.deadLetterQueue(queue), false);
                if (r == null) break;
                sink.accept(describe(r));
            }
        }
    }

    private static DeadLetter describe(GetResponse r) {
        Map<String, Object> headers = r.getProps().getHeaders();
        Object error = headers == null ? null : headers.get(CqrsTopology.ERROR_HEADER);
        try {
            CqrsMessage m = CqrsWire.decode(r.getBody());
            return new DeadLetter(m.cqrsId(), CqrsWire.json(m.instancePk()), m.retries(), error == null ? null : error.toString(),
                    r.getBody());
        } catch (WireException e) {
            return new DeadLetter(null, null, 0, error == null ? e.getMessage() : error.toString(), r.getBody());
        }
    }

    @Override
    public void close() {
        try {
            connection.close(5_000);
        } catch (IOException | RuntimeException e) {
            connection.abort();
        }
    }
}
