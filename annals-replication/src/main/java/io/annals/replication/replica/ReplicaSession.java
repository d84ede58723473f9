package io.annals.replication.replica;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.Delivery;
import io.annals.changelog.Supervisor;
import io.annals.replication.ReplicaTable;
import io.annals.replication.wire.CqrsMessage;
import io.annals.replication.wire.CqrsTopology;
import io.annals.replication.wire.CqrsWire;
import io.annals.replication.wire.WireException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.io.IOException;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One run of a replica: a broker connection consuming the queue with a prefetch window, and
 * {@code N} workers, each with its own database connection. A message goes to the worker its
 * {@code (cqrs_id, instance_pk)} hashes to, so that the messages of one row are applied in the
 * order they arrived, whatever the number of workers. A worker applies the messages waiting for it
 * in one local transaction, and one at a time where that fails. A message is acknowledged only after its
 * transaction committed, or after its retry or dead letter was confirmed by the broker; a crash
 * at any point leaves it unacknowledged, and it comes again (applying it again is harmless).
 *
 * <p>A failed message is published again to {@code cqrs.<queue>.<cqrs_id>} with {@code retries+1}
 * after a growing delay, as django-cqrs does, and after {@code maxRetries} goes to
 * {@code dead_letter_<queue>} with its error in a header. A message no retry can fix (not a
 * django-cqrs body, an unknown {@code cqrs_id}, a value that does not fit its column, expired)
 * goes there at once. A lost database connection is none of those: the worker waits and tries the
 * same message again, and nothing is dead-lettered for it.
 *
 * <pre>{@code
 * ReplicaSession s = new ReplicaSession(config);       // CqrsReplica supervises one at a time
 * Optional<Throwable> end = s.awaitEnd();              // empty once closed
 * }</pre>
 */
public final class ReplicaSession implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ReplicaSession.class);

    /** Everything a session needs; counters outlive sessions. */
    public record Config(ConnectionFactory broker, DataSource database, String queue, List<ReplicaTable> tables, int workers,
                         int prefetch, int maxRetries, Duration retryDelay, Duration maxRetryDelay, String tombstones,
                         Counters counters, Clock clock) {
    }

    /** What replicas did, across restarts. */
    public record Counters(AtomicLong applied, AtomicLong ignored, AtomicLong retried, AtomicLong deadLettered) {
        public Counters() {
            this(new AtomicLong(), new AtomicLong(), new AtomicLong(), new AtomicLong());
        }
    }

    private record Job(long tag, byte[] body, CqrsMessage message, WireException unreadable) {
    }

    private static final Job STOP = new Job(-1, null, null, null);

    private final Config config;
    private final Connection broker;
    private final Channel consumer;
    private final Channel publisher;
    private final Map<String, TableShape> shapes;
    private final LocalStore store;
    private final List<Worker> workers = new ArrayList<>();
    private final ScheduledExecutorService delays;
    private final AtomicInteger inFlight = new AtomicInteger();
    /** Delivery tags received and not yet acknowledged, and those of them that are done with (guarded by the consumer channel). */
    private final java.util.TreeSet<Long> outstanding = new java.util.TreeSet<>();
    private final java.util.Set<Long> done = new java.util.HashSet<>();
    private final CountDownLatch ended = new CountDownLatch(1);
    private volatile Throwable failure;
    private volatile boolean closing;
    private String consumerTag;

    /** Connects, checks the replica tables, declares the queues and starts consuming. */
    public ReplicaSession(Config config) throws Exception {
        this.config = config;
        store = LocalStore.open(config.database(), config.tables(), config.tombstones());
        shapes = store.shapes();
        for (int i = 0; i < config.workers(); i++) workers.add(new Worker(i));
        broker = config.broker().newConnection("annals replica " + config.queue());
        try {
            publisher = broker.createChannel();
            publisher.confirmSelect();
            consumer = broker.createChannel();
            CqrsTopology.declareReplicaQueues(consumer, config.queue(), shapes.keySet());
            consumer.basicQos(config.prefetch());
            consumer.addShutdownListener(cause -> {
                if (!closing) end(new IOException("The broker closed the consumer: " + cause.getMessage(), cause));
            });
            delays = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon(true)
                    .name("annals-replica-retries-" + config.queue()).unstarted(r));
            for (Worker w : workers) w.thread.start();
            consumerTag = consumer.basicConsume(config.queue(), false, (tag, delivery) -> dispatch(delivery), tag -> {
                if (!closing) end(new IOException("The broker cancelled the consumer of queue " + config.queue()));
            });
        } catch (IOException | RuntimeException e) {
            broker.abort();
            for (Worker w : workers) w.stop();
            throw e;
        }
    }

    /** Waits until the session ends: empty when closed, else the failure (a lost broker connection). */
    public Optional<Throwable> awaitEnd() {
        try {
            ended.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return Optional.ofNullable(failure);
    }

    /** Messages received and not yet acknowledged. */
    public int inFlight() {
        return inFlight.get();
    }

    /** Messages waiting in the queue (not yet delivered). */
    public long queued() throws IOException, TimeoutException {
        try (Channel ch = broker.createChannel()) {
            return ch.queueDeclarePassive(config.queue()).getMessageCount();
        }
    }

    /** Deletes the tombstones older than {@code age}; returns how many. */
    public int pruneTombstones(Duration age) throws SQLException {
        return store.pruneTombstones(age);
    }

    private void dispatch(Delivery d) {
        inFlight.incrementAndGet();
        byte[] body = d.getBody();
        long tag = d.getEnvelope().getDeliveryTag();
        synchronized (consumer) {
            outstanding.add(tag);
        }
        Job job;
        try {
            job = new Job(tag, body, CqrsWire.decode(body), null);
        } catch (WireException e) {
            job = new Job(tag, body, null, e);
        }
        int slot = job.message() == null ? 0
                : Math.floorMod((job.message().cqrsId() + "\u0000" + CqrsWire.json(job.message().instancePk())).hashCode(), workers.size());
        workers.get(slot).jobs.add(job);
    }

    /**
     * Acknowledges {@code tag}, which is done with (applied and durable, retried or
     * dead-lettered). Acknowledgements are the broker's work per message, so they are coalesced:
     * when every message delivered up to some tag is done, one acknowledgement with
     * {@code multiple=true} covers them all. Messages done behind one still in hand (in another
     * worker, or waiting for its retry) wait for it, but never more than half the prefetch of
     * them: beyond that they are acknowledged one by one, so that a slow message cannot stall the
     * delivery window.
     */
    private void ack(long tag) {
        try {
            synchronized (consumer) {
                done.add(tag);
                long upTo = -1;
                while (!outstanding.isEmpty() && done.remove(outstanding.first())) upTo = outstanding.pollFirst();
                if (!consumer.isOpen()) return;
                if (upTo >= 0) consumer.basicAck(upTo, true);
                if (done.size() > config.prefetch() / 2) {
                    for (long d : done) {
                        consumer.basicAck(d, false);
                        outstanding.remove(d);
                    }
                    done.clear();
                }
            }
        } catch (IOException | RuntimeException e) {
            log.debug("Acknowledging {} failed ({}); the broker delivers it again", tag, e.getMessage());
        } finally {
            inFlight.decrementAndGet();
        }
    }

    /** Publishes with the broker's confirm, from any thread. */
    private void publish(String exchange, String routingKey, AMQP.BasicProperties props, byte[] body)
            throws IOException, InterruptedException, TimeoutException {
        synchronized (publisher) {
            publisher.basicPublish(exchange, routingKey, props, body);
            publisher.waitForConfirmsOrDie(30_000);
        }
    }

    private void deadLetter(Job job, String reason) throws IOException, InterruptedException, TimeoutException {
        log.warn("Queue {}: dead-lettering {}: {}", config.queue(), job.message() == null ? "a message" : job.message().cqrsId() + " "
                + job.message().instancePk(), reason);
        AMQP.BasicProperties props = CqrsTopology.deadLetterProperties(reason);
        if (job.message() != null && shapes.containsKey(job.message().cqrsId())) {
            publish(CqrsTopology.EXCHANGE, CqrsTopology.deadLetterRoutingKey(config.queue(), job.message().cqrsId()), props,
                    CqrsWire.encode(job.message()));
        } else {
            // No binding routes an unknown cqrs_id or an unreadable body: straight to the queue, through the default exchange.
            publish("", CqrsTopology.deadLetterQueue(config.queue()), props, job.body());
        }
        config.counters().deadLettered().incrementAndGet();
    }

    private void end(Throwable cause) {
        if (failure == null) failure = cause;
        ended.countDown();
    }

    /** A durability barrier comes once this many applied messages wait for it, or when the worker has nothing more to do. */
    private static final int DURABLE_EVERY = 256;
    /** At most this many messages of one worker go into one local transaction. */
    static final int BATCH = 1_000;

    /** A worker: applies its jobs one at a time, in arrival order, on its own connection. */
    private final class Worker {
        final BlockingQueue<Job> jobs = new LinkedBlockingQueue<>();
        final Thread thread;
        /** Applied, committed, not yet known durable: acknowledged after the next barrier. */
        private final List<Long> applied = new ArrayList<>();
        private Applier applier;

        Worker(int index) {
            thread = Thread.ofPlatform().daemon(true).name("annals-replica-" + config.queue() + "-" + index).unstarted(this::run);
        }

        void stop() {
            jobs.add(STOP);
        }

        private void run() {
            List<Job> run = new ArrayList<>();
            while (true) {
                run.clear();
                try {
                    run.add(jobs.take());
                } catch (InterruptedException e) {
                    break;
                }
                jobs.drainTo(run, BATCH - 1);
                int stopAt = run.indexOf(STOP);
                List<Job> work = stopAt < 0 ? run : run.subList(0, stopAt);
                try {
                    if (!work.isEmpty()) handleRun(work);
                    if (stopAt >= 0) {
                        try {
                            durable(); // what is applied need not come again
                        } catch (SQLException e) {
                            log.debug("Queue {}: the last messages stay unacknowledged: {}", config.queue(), e.getMessage());
                        }
                        break;
                    }
                    if (applied.size() >= DURABLE_EVERY || jobs.isEmpty()) durable();
                } catch (InterruptedException e) {
                    break;
                } catch (Exception e) {
                    // The broker failed us while retrying or dead-lettering: the session restarts, the message comes again.
                    log.warn("Queue {}: {}; the message stays unacknowledged", config.queue(), e.toString());
                    end(e);
                    break;
                }
            }
            closeApplier();
        }

        /**
         * Applies the messages that were waiting for this worker: the ones a batch can take in one
         * local transaction ({@link Applier#applyBatch}), the others (unreadable, expired, for a
         * table with a handler, ...) one at a time first, as {@link #handle} always did. None of the
         * latter is applied to a row the batch touches: their rows are not written at all, or
         * their whole table goes one at a time. If the batch fails, it is rolled back and its
         * messages go one at a time, so that a bad one is retried or dead-lettered alone.
         */
        private void handleRun(List<Job> run) throws Exception {
            if (run.size() == 1) {
                handle(run.get(0));
                return;
            }
            List<Job> together = new ArrayList<>(run.size());
            List<Applier.Prepared> prepared = new ArrayList<>(run.size());
            for (Job job : run) {
                Applier.Prepared p = job.message() == null || job.message().expiredAt(config.clock().instant()) ? null
                        : store.prepare(job.message());
                if (p == null) {
                    handle(job);
                } else {
                    together.add(job);
                    prepared.add(p);
                }
            }
            if (together.isEmpty() || closing) return;
            if (together.size() == 1) {
                handle(together.get(0));
                return;
            }
            try {
                Applier.BatchResult r = applier().applyBatch(prepared);
                config.counters().applied().addAndGet(r.applied());
                config.counters().ignored().addAndGet(r.ignored());
                for (Job job : together) applied.add(job.tag());
            } catch (Exception e) {
                log.debug("Queue {}: a batch of {} messages failed ({}); applying them one at a time", config.queue(), together.size(),
                        e.toString());
                if (Supervisor.isRetryable(e)) closeApplier();
                for (Job job : together) handle(job);
            }
        }

        private void handle(Job job) throws Exception {
            if (job.unreadable() != null) {
                deadLetter(job, "not a django-cqrs message: " + job.unreadable().getMessage());
                ack(job.tag());
                return;
            }
            CqrsMessage m = job.message();
            if (m.expiredAt(config.clock().instant())) {
                deadLetter(job, "expired at " + m.expires() + " before it could be applied");
                ack(job.tag());
                return;
            }
            long backoff = 100;
            while (!closing) {
                try {
                    Applier.Outcome outcome = applier().apply(m);
                    (outcome == Applier.Outcome.APPLIED ? config.counters().applied() : config.counters().ignored()).incrementAndGet();
                    applied.add(job.tag());
                    return;
                } catch (PoisonException e) {
                    deadLetter(job, m.cqrsId() + " " + m.instancePk() + ": " + e.getMessage());
                    ack(job.tag());
                    return;
                } catch (Exception e) {
                    if (e instanceof SQLException se && se.getSQLState() != null && se.getSQLState().startsWith("22")) {
                        // A data exception: a value the column cannot hold. No retry changes that.
                        deadLetter(job, m.cqrsId() + " " + m.instancePk() + ": a value does not fit its column: " + describe(e));
                        ack(job.tag());
                        return;
                    }
                    if (Supervisor.isRetryable(e)) {
                        log.warn("Queue {}: the replica database is unreachable ({}); trying again in {} ms", config.queue(),
                                e.getMessage(), backoff);
                        closeApplier();
                        Thread.sleep(backoff);
                        backoff = Math.min(backoff * 2, 5_000);
                        continue;
                    }
                    String reason = m.cqrsId() + " " + m.instancePk() + " (revision " + m.instanceData().path(CqrsMessage.REVISION)
                            + ") could not be applied: " + describe(e);
                    if (m.retries() >= config.maxRetries()) {
                        deadLetter(job, reason + " (after " + m.retries() + " retries)");
                        ack(job.tag());
                    } else {
                        retryLater(job, m, reason);
                    }
                    return;
                }
            }
        }

        private void retryLater(Job job, CqrsMessage m, String reason) {
            long delay = Math.min(config.maxRetryDelay().toMillis(), config.retryDelay().toMillis() << Math.min(20, m.retries()));
            log.info("Queue {}: {}; retry {} in {} ms", config.queue(), reason, m.retries() + 1, delay);
            delays.schedule(() -> {
                try {
                    publish(CqrsTopology.EXCHANGE, CqrsTopology.queueRoutingKey(config.queue(), m.cqrsId()), CqrsTopology.properties(),
                            CqrsWire.encode(m.withRetries(m.retries() + 1)));
                    config.counters().retried().incrementAndGet();
                    ack(job.tag());
                } catch (Exception e) {
                    log.warn("Queue {}: could not publish a retry ({}); the message stays unacknowledged", config.queue(), e.toString());
                    end(e);
                }
            }, delay, TimeUnit.MILLISECONDS);
        }

        /**
         * Waits until what this worker committed is durable, then acknowledges it. If that fails
         * the messages stay unacknowledged and the session ends: the broker delivers them again,
         * and applying them again is harmless.
         */
        private void durable() throws SQLException {
            if (applied.isEmpty()) return;
            try {
                applier().barrier();
            } catch (SQLException e) {
                closeApplier();
                throw e;
            }
            for (long tag : applied) ack(tag);
            applied.clear();
        }

        private Applier applier() throws SQLException {
            if (applier == null) applier = store.applier();
            return applier;
        }

        private void closeApplier() {
            if (applier != null) applier.close();
            applier = null;
        }
    }

    private static String describe(Throwable e) {
        String state = e instanceof SQLException se && se.getSQLState() != null ? " [SQLSTATE " + se.getSQLState() + "]" : "";
        return (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().strip()) + state;
    }

    /** Stops consuming, lets each worker finish the message in hand, and closes everything; unacknowledged messages come again. */
    @Override
    public void close() {
        closing = true;
        try {
            synchronized (consumer) {
                if (consumer.isOpen() && consumerTag != null) consumer.basicCancel(consumerTag);
            }
        } catch (IOException | RuntimeException e) {
            log.debug("Cancelling the consumer: {}", e.getMessage());
        }
        for (Worker w : workers) w.stop();
        for (Worker w : workers) {
            try {
                w.thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        delays.shutdownNow();
        try {
            broker.close(5_000);
        } catch (IOException | RuntimeException e) {
            broker.abort();
        }
        ended.countDown();
    }
}
