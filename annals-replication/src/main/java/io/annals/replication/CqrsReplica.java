package io.annals.replication;

import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.ShutdownSignalException;
import io.annals.changelog.Supervisor;
import io.annals.replication.replica.LocalStore;
import io.annals.replication.replica.ReplicaSession;

import javax.sql.DataSource;
import java.io.IOException;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A django-cqrs replica: consumes its queue and applies each message to a local table on
 * PostgreSQL or MariaDB, the messages waiting for a worker in one local transaction (with the same
 * outcome, row by row, as one after the other), a message that fails in a transaction of its own.
 * It reads what a Django master sends, and what {@link CqrsMaster} sends.
 *
 * <pre>{@code
 * try (CqrsReplica replica = CqrsReplica.builder(localDataSource)
 *         .broker("amqp://guest:guest@127.0.0.1:5672/")
 *         .queue("orders_service")
 *         .table(ReplicaTable.builder("author").table("authors").rename("name", "full_name").build())
 *         .workers(4)
 *         .start()) {
 *     ...
 * }
 * }</pre>
 *
 * <h2>Order and idempotence</h2>
 * A SAVE or DELETE is applied only when it is newer than the row: a later {@code cqrs_updated}, or
 * the same one and a higher {@code cqrs_revision} (for one life of a row, the revision order); an
 * older or equal one is acknowledged and ignored. A SYNC is always applied to a row that exists. A
 * DELETE leaves a tombstone with its revision and {@code cqrs_updated}, so a late SAVE does not bring
 * the row back, while a re-created row, which a django-cqrs master numbers from 0 again, is newer by
 * its {@code cqrs_updated}. Tombstones are pruned after {@link Builder#tombstonesKeptFor}. Messages
 * of one row always go to the same worker, so per-row order holds with any number of workers.
 *
 * <h2>Failures</h2>
 * A message that fails is retried with a growing delay through {@code cqrs.<queue>.<cqrs_id>}, as
 * django-cqrs does, then dead-lettered to {@code dead_letter_<queue>} with its error (header
 * {@code x-annals-error}); one no retry can fix goes there at once; see {@link CqrsDeadLetters}. A
 * lost broker connection restarts the consumer with back-off; a lost database connection holds the
 * message until the database is back. Nothing is acknowledged before it committed.
 */
public final class CqrsReplica implements AutoCloseable {

    /**
     * What the replica has done since it started.
     *
     * <pre>{@code
     * CqrsReplica.Stats s = replica.stats();
     * if (s.deadLettered() > 0) alert(s);
     * }</pre>
     *
     * @param applied      messages that changed a row or a tombstone
     * @param ignored      messages older than (or as old as) what the replica has
     * @param retried      messages published again for a retry
     * @param deadLettered messages sent to the dead letters
     */
    public record Stats(long applied, long ignored, long retried, long deadLettered) {
    }

    /**
     * What a {@link Builder#load load} did.
     *
     * <pre>{@code
     * if (builder.load(reader, errors::add, n -> { }).failed() > 0) ...
     * }</pre>
     *
     * @param applied messages applied
     * @param ignored messages older than what the replica had
     * @param failed  lines that could not be applied (each reported with its line number)
     */
    public record LoadResult(long applied, long ignored, long failed) {
    }

    private final ReplicaSession.Config config;
    private final Supervisor<ReplicaSession> supervisor;
    private final ScheduledExecutorService pruner;
    private final Duration tombstoneAge;

    private CqrsReplica(ReplicaSession.Config config, Supervisor<ReplicaSession> supervisor, Duration tombstoneAge) {
        this.config = config;
        this.supervisor = supervisor;
        this.tombstoneAge = tombstoneAge;
        this.pruner = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon(true)
                .name("annals-replica-prune-" + config.queue()).unstarted(r));
        long every = Math.max(1, Math.min(TimeUnit.HOURS.toSeconds(1), tombstoneAge.toSeconds() / 10));
        pruner.scheduleWithFixedDelay(() -> {
            try {
                pruneTombstones();
            } catch (RuntimeException e) {
                // The database is away; the next round tries again.
            }
        }, every, every, TimeUnit.SECONDS);
    }

    /** Starts setting up a replica that writes to {@code database}. */
    public static Builder builder(DataSource database) {
        return new Builder(Objects.requireNonNull(database, "database"));
    }

    /** What the replica has done. */
    public Stats stats() {
        ReplicaSession.Counters c = config.counters();
        return new Stats(c.applied().get(), c.ignored().get(), c.retried().get(), c.deadLettered().get());
    }

    /** The failure that stopped the replica (one that a restart cannot fix), if any. */
    public Optional<Throwable> failure() {
        return supervisor.failure();
    }

    /**
     * Waits until the queue is empty and every message received is acknowledged (applied, ignored,
     * retried or dead-lettered), twice in a row, so that a retry in flight is not missed.
     *
     * @return false if {@code timeout} passed first
     */
    public boolean awaitIdle(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        int quiet = 0;
        while (System.nanoTime() < deadline) {
            Optional<ReplicaSession> s = supervisor.current();
            try {
                quiet = s.isPresent() && s.get().inFlight() == 0 && s.get().queued() == 0 ? quiet + 1 : 0;
            } catch (IOException | TimeoutException | RuntimeException e) {
                quiet = 0;
            }
            if (quiet >= 3) return true;
            Thread.sleep(50);
        }
        return false;
    }

    /** Deletes tombstones older than the configured age now (it also happens on a schedule); returns how many. */
    public int pruneTombstones() {
        ReplicaSession s = supervisor.current().orElseThrow(() -> new ReplicationException("The replica is not running"));
        try {
            return s.pruneTombstones(tombstoneAge);
        } catch (SQLException e) {
            throw new ReplicationException("Could not prune tombstones: " + e.getMessage(), e);
        }
    }

    /** Stops consuming; each worker finishes the message in hand; unacknowledged messages stay in the queue. */
    @Override
    public void close() {
        pruner.shutdownNow();
        supervisor.close();
    }

    /** Failures a fresh session may not meet: the broker or the database away for a while. */
    static boolean passing(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof TimeoutException || c instanceof ShutdownSignalException) return true;
        }
        return Supervisor.isRetryable(t);
    }

    /**
     * How a replica is set up.
     *
     * <pre>{@code
     * CqrsReplica r = CqrsReplica.builder(ds).broker(Broker.LOCAL).queue("svc").table(authors)
     *         .workers(2).prefetch(200).maxRetries(5).retryDelay(Duration.ofSeconds(1), Duration.ofMinutes(1)).start();
     * }</pre>
     */
    public static final class Builder {
        private final DataSource database;
        private ConnectionFactory broker;
        private String queue;
        private final List<ReplicaTable> tables = new ArrayList<>();
        private int workers = 1;
        private int prefetch = 100;
        private int maxRetries = 5;
        private Duration retryDelay = Duration.ofSeconds(1);
        private Duration maxRetryDelay = Duration.ofMinutes(1);
        private String tombstones = "cqrs_tombstones";
        private Duration tombstoneAge = Duration.ofDays(7);
        private Clock clock = Clock.systemUTC();

        private Builder(DataSource database) {
            this.database = database;
        }

        /** The broker, as an AMQP URI (required, or a factory). */
        public Builder broker(String amqpUri) {
            return broker(Broker.factory(amqpUri));
        }

        public Builder broker(ConnectionFactory factory) {
            this.broker = Objects.requireNonNull(factory, "factory");
            return this;
        }

        /** The replica's queue (required): django-cqrs' {@code CQRS['queue']}. */
        public Builder queue(String name) {
            if (name == null || !name.matches("[A-Za-z0-9_.\\-]{1,200}")) {
                throw new IllegalArgumentException("A queue name is 1 to 200 letters, digits, '_', '.' or '-'; got " + name);
            }
            this.queue = name;
            return this;
        }

        /** Where one {@code cqrs_id} goes (at least one). */
        public Builder table(ReplicaTable table) {
            for (ReplicaTable t : tables) {
                if (t.cqrsId().equals(table.cqrsId())) throw new IllegalArgumentException("cqrs_id " + t.cqrsId() + " is mapped twice");
            }
            tables.add(table);
            return this;
        }

        /** Workers applying in parallel, each with its own connection (default 1); one row's messages always share one. */
        public Builder workers(int n) {
            if (n < 1 || n > 256) throw new IllegalArgumentException("workers must be 1 to 256, not " + n);
            this.workers = n;
            return this;
        }

        /** Messages the broker may deliver ahead of their acknowledgement (default 100): the memory bound. */
        public Builder prefetch(int n) {
            if (n < 1 || n > 65_535) throw new IllegalArgumentException("prefetch must be 1 to 65535, not " + n);
            this.prefetch = n;
            return this;
        }

        /** Retries of a failing message before it is dead-lettered (default 5). */
        public Builder maxRetries(int n) {
            if (n < 0) throw new IllegalArgumentException("maxRetries cannot be negative");
            this.maxRetries = n;
            return this;
        }

        /** The delay before retry {@code n}: {@code first} doubled {@code n - 1} times, at most {@code max}. */
        public Builder retryDelay(Duration first, Duration max) {
            if (first.isNegative() || max.compareTo(first) < 0) throw new IllegalArgumentException("retryDelay needs 0 <= first <= max");
            this.retryDelay = first;
            this.maxRetryDelay = max;
            return this;
        }

        /** The tombstone table's name in the replica database (default {@code cqrs_tombstones}; created if missing). */
        public Builder tombstoneTable(String name) {
            this.tombstones = Objects.requireNonNull(name, "name");
            return this;
        }

        /**
         * How long a tombstone is kept (default 7 days): longer than any message can be late. A
         * SAVE later than that may bring a deleted row back.
         */
        public Builder tombstonesKeptFor(Duration age) {
            this.tombstoneAge = Objects.requireNonNull(age, "age");
            return this;
        }

        /** The clock that says whether a message has expired (tests). */
        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c, "clock");
            return this;
        }

        /**
         * Applies the messages of a file (one body a line, as {@link CqrsMaster.Builder#dump}
         * writes them) to the replica tables, one transaction each, with the same ordering rules
         * as from the queue, without a broker. Lines that cannot be applied go to {@code errors}.
         *
         * <pre>{@code
         * LoadResult r = CqrsReplica.builder(ds).table(authors).load(reader, System.err::println, n -> {});
         * }</pre>
         */
        public LoadResult load(java.io.Reader in, java.util.function.Consumer<String> errors, java.util.function.LongConsumer progress) {
            if (tables.isEmpty()) throw new IllegalStateException("Map at least one cqrs_id: .table(ReplicaTable.builder(...).build())");
            try {
                LocalStore.LoadResult r = LocalStore.open(database, List.copyOf(tables), tombstones)
                        .load(new java.io.BufferedReader(in, 1 << 16), errors, progress);
                return new LoadResult(r.applied(), r.ignored(), r.failed());
            } catch (IOException | SQLException e) {
                throw new ReplicationException("The load stopped: " + e.getMessage(), e);
            }
        }

        /**
         * Checks the tables, declares the queues (as a django-cqrs replica does) and starts
         * consuming; a lost broker connection later restarts the consumer with back-off.
         *
         * @throws ReplicationException naming what is wrong with a table, or why the broker refused
         */
        public CqrsReplica start() {
            if (broker == null) throw new IllegalStateException("Say where the broker is: .broker(\"amqp://guest:guest@host:5672/\")");
            if (queue == null) throw new IllegalStateException("Name the replica's queue: .queue(\"my_service\")");
            if (tables.isEmpty()) throw new IllegalStateException("Map at least one cqrs_id: .table(ReplicaTable.builder(...).build())");
            ReplicaSession.Config config = new ReplicaSession.Config(broker, database, queue, List.copyOf(tables), workers, prefetch,
                    maxRetries, retryDelay, maxRetryDelay, tombstones, new ReplicaSession.Counters(), clock);
            ReplicaSession first;
            try {
                first = new ReplicaSession(config);
            } catch (ReplicationException e) {
                throw e;
            } catch (Exception e) {
                throw new ReplicationException("Could not start the replica of queue " + queue + ": " + e, e);
            }
            Supervisor<ReplicaSession> supervisor = Supervisor.of("cqrs replica " + queue, () -> new ReplicaSession(config))
                    .firstWorker(first).awaitingEnd(ReplicaSession::awaitEnd).retryingWhen(CqrsReplica::passing)
                    .backoff(new Supervisor.Backoff(Duration.ofMillis(200), Duration.ofSeconds(10))).start();
            return new CqrsReplica(config, supervisor, tombstoneAge);
        }
    }
}
