package io.annals.replication;

import com.rabbitmq.client.ConnectionFactory;
import io.annals.changelog.ChangeLog;
import io.annals.changelog.feed.ChangeFeed;
import io.annals.replication.master.Diff;
import io.annals.replication.master.MasterHandler;
import io.annals.replication.master.Publisher;
import io.annals.replication.master.ResolvedEntity;
import io.annals.replication.master.Revisions;
import io.annals.replication.master.Snapshot;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A django-cqrs master that needs no code in the owning service: it reads every committed change
 * of the declared tables from the change log (so bulk SQL and direct writes are included), in
 * commit order, and publishes SAVE and DELETE messages to RabbitMQ's {@code cqrs} exchange, as a
 * Django {@code MasterMixin} model would.
 *
 * <pre>{@code
 * try (CqrsMaster master = CqrsMaster.builder(ChangeLog.at("jdbc:postgresql://db/app?user=annals"))
 *         .broker("amqp://guest:guest@127.0.0.1:5672/")
 *         .entity(CqrsEntity.builder("author").table("public.author").build())
 *         .start()) {
 *     master.awaitCaughtUp(Duration.ofMinutes(1));
 * }
 * }</pre>
 *
 * <h2>Guarantees</h2>
 * The master is a change feed ({@link ChangeFeed}) in exactly-once mode on its state database (by
 * default the change log's): each batch gives every change of a row the next {@code cqrs_revision}
 * (0 for the first, a 32-bit integer as Django stores it), stores the revisions in
 * {@code annals.cqrs_revisions}, publishes the messages as persistent messages and waits for the
 * broker's confirms, and only then commits the revisions with the feed's checkpoint. With the broker
 * down the batch rolls back and is tried again with back-off: nothing is lost. After a crash between
 * the confirms and the commit the batch is published again with the same revisions, which a replica
 * drops as duplicates (at least once to the broker, exactly once in effect).
 */
public final class CqrsMaster implements AutoCloseable {

    /**
     * How numeric and float columns travel.
     *
     * <pre>{@code
     * CqrsMaster.builder(log).decimals(CqrsMaster.Decimals.EXACT)...
     * }</pre>
     */
    public enum Decimals {
        /** As a Django master sends a {@code Decimal} through ujson: a float ({@code 12.5}, {@code 10.0}); the default. */
        FLOAT,
        /** Exactly as PostgreSQL has them ({@code 12.50}); a Django replica reads them as floats all the same. */
        EXACT
    }

    /**
     * What a {@link Builder#diff diff} found, and how many fixes it sent.
     *
     * <pre>{@code
     * CqrsMaster.DiffResult d = builder.diff("author", replica, table, false, null, n -> { });
     * if (!d.clean()) System.out.println(d.missingKeys());
     * }</pre>
     *
     * @param missing     rows the replica lacks
     * @param stale       rows whose revision on the replica is older
     * @param extra       rows the replica has and the master no longer has
     * @param sent        fixes sent (0 without repair)
     * @param missingKeys a few of the missing keys, to show
     * @param staleKeys   a few of the stale keys, with both revisions
     * @param extraKeys   a few of the extra keys
     */
    public record DiffResult(long missing, long stale, long extra, long sent, List<String> missingKeys, List<String> staleKeys,
                             List<String> extraKeys) {
        /** Whether master and replica agree. */
        public boolean clean() {
            return missing == 0 && stale == 0 && extra == 0;
        }
    }

    private final Builder config;
    private final Map<String, ResolvedEntity> entities;
    private final MasterHandler handler;
    private final ChangeFeed feed;

    private CqrsMaster(Builder config, Map<String, ResolvedEntity> entities, MasterHandler handler, ChangeFeed feed) {
        this.config = config;
        this.entities = entities;
        this.handler = handler;
        this.feed = feed;
    }

    /** Starts setting up a master that reads {@code changeLog}. */
    public static Builder builder(ChangeLog changeLog) {
        return new Builder(Objects.requireNonNull(changeLog, "changeLog"));
    }

    /** The change feed the master reads, for its state, position and lag. */
    public ChangeFeed feed() {
        return feed;
    }

    /** The failure the master is retrying (broker or database unreachable), if any. */
    public Optional<Throwable> failure() {
        return feed.failure();
    }

    /** How many messages the broker has confirmed since the start. */
    public long published() {
        return handler.published();
    }

    /** Waits until every change in the log when called has been published; false if {@code timeout} passed first. */
    public boolean awaitCaughtUp(Duration timeout) {
        return feed.awaitCaughtUp(timeout);
    }

    /**
     * Sends the current rows of {@code cqrsId} whose columns have the values of {@code filter} (a
     * JSON object, e.g. {@code {"id": 1}}; null for all) as SYNC messages, to every replica, or to
     * the queue {@code queue} only ({@code cqrs.<queue>.<cqrs_id>}), with confirms.
     *
     * @return how many messages were sent
     * @throws ReplicationException on an unknown {@code cqrs_id} or a bad filter
     */
    public long sync(String cqrsId, String filter, String queue) {
        return config.sync(entity(entities, cqrsId), filter, queue, handler, n -> { });
    }

    private static ResolvedEntity entity(Map<String, ResolvedEntity> entities, String cqrsId) {
        ResolvedEntity e = entities.get(cqrsId);
        if (e == null) throw new ReplicationException("Unknown cqrs_id '" + cqrsId + "'; this master replicates " + entities.keySet());
        return e;
    }

    /** Stops reading after the batch in flight, and closes the broker connection. */
    @Override
    public void close() {
        feed.close();
        handler.close();
    }

    /**
     * How a master is set up: its broker, its entities, where it keeps its state.
     *
     * <pre>{@code
     * CqrsMaster master = CqrsMaster.builder(log).broker(factory).entity(author).entity(book)
     *         .feedName("cqrs-master").start();
     * }</pre>
     */
    public static final class Builder {
        private final ChangeLog changeLog;
        private ConnectionFactory broker;
        private final List<CqrsEntity> entities = new ArrayList<>();
        private String feedName = "cqrs-master";
        private DataSource source;
        private DataSource state;
        private Decimals decimals = Decimals.FLOAT;
        private Duration expiresAfter = Duration.ofDays(1);
        private int batchSize = 5_000;
        private Duration confirmTimeout = Duration.ofSeconds(30);
        private Duration minBackoff = Duration.ofMillis(200);
        private Duration maxBackoff = Duration.ofSeconds(10);

        private Builder(ChangeLog changeLog) {
            this.changeLog = changeLog;
        }

        /** The broker, as an AMQP URI such as {@code amqp://guest:guest@127.0.0.1:5672/} (required, or a factory). */
        public Builder broker(String amqpUri) {
            return broker(Broker.factory(amqpUri));
        }

        /** The broker, as a connection factory. */
        public Builder broker(ConnectionFactory factory) {
            this.broker = Objects.requireNonNull(factory, "factory");
            return this;
        }

        /** Replicates {@code entity} (at least one). */
        public Builder entity(CqrsEntity entity) {
            for (CqrsEntity e : entities) {
                if (e.cqrsId().equals(entity.cqrsId())) throw new IllegalArgumentException("cqrs_id " + e.cqrsId() + " is declared twice");
            }
            entities.add(entity);
            return this;
        }

        /** The change feed's name, the key of its checkpoint (default {@code cqrs-master}). */
        public Builder feedName(String name) {
            this.feedName = Objects.requireNonNull(name, "name");
            return this;
        }

        /** Where the replicated tables are (default: the change log's database). */
        public Builder source(DataSource dataSource) {
            this.source = Objects.requireNonNull(dataSource, "dataSource");
            return this;
        }

        /**
         * Where the master keeps its checkpoint and revisions, in one transaction (default: the
         * change log's database).
         */
        public Builder state(DataSource dataSource) {
            this.state = Objects.requireNonNull(dataSource, "dataSource");
            return this;
        }

        /** How numerics and floats travel (default {@link Decimals#FLOAT}, as a Django master sends them). */
        public Builder decimals(Decimals mode) {
            this.decimals = Objects.requireNonNull(mode, "mode");
            return this;
        }

        /**
         * {@code expires}: the commit time plus this (default one day, as django-cqrs); null sends
         * {@code null}, for no expiry. A replica dead-letters a message it gets after its expiry, so
         * a master restarted on a backlog older than this should raise it.
         */
        public Builder expiresAfter(Duration after) {
            this.expiresAfter = after;
            return this;
        }

        /**
         * Changes per batch, and so messages per transaction and per confirm wait (default 5,000:
         * on the benchmark's 2 cores a master publishing a backlog made 6,000 messages/s in batches
         * of 1,000 and 14,000/s in batches of 5,000, the fixed cost of each batch's commit and
         * confirm wait then being shared by more messages). A batch is what the log holds, so a
         * master that keeps up sends small ones and its latency does not change.
         */
        public Builder batchSize(int size) {
            this.batchSize = size;
            return this;
        }

        /** The back-off between tries of a batch that failed (default 200 ms doubling to 10 s). */
        public Builder backoff(Duration min, Duration max) {
            this.minBackoff = min;
            this.maxBackoff = max;
            return this;
        }

        /** How long to wait for the broker's confirms of a batch before trying it again (default 30 s). */
        public Builder confirmTimeout(Duration timeout) {
            this.confirmTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /**
         * Checks every entity against the source (table, columns, primary key), creates the state
         * table and starts publishing on the feed's own thread.
         *
         * @throws ReplicationException naming what is wrong with an entity
         */
        public CqrsMaster start() {
            if (broker == null) throw new IllegalStateException("Say where the broker is: .broker(\"amqp://guest:guest@host:5672/\")");
            if (entities.isEmpty()) throw new IllegalStateException("Declare at least one entity: .entity(CqrsEntity.builder(...)...)");
            DataSource stateDs = state == null ? changeLog.dataSource() : state;
            Revisions.migrate(stateDs);
            Map<String, ResolvedEntity> resolved = resolve();
            MasterHandler handler = new MasterHandler(List.copyOf(resolved.values()), sourceDataSource(),
                    new Publisher(broker, "annals " + feedName, confirmTimeout), expiresAfter);
            ChangeFeed feed = ChangeFeed.from(changeLog).named(feedName).tables(handler.tables().toArray(String[]::new))
                    .batchSize(batchSize).backoff(minBackoff, maxBackoff).startTransactional(stateDs, handler);
            return new CqrsMaster(this, resolved, handler, feed);
        }

        /**
         * Sends the current rows of {@code cqrsId} matching {@code filter} as SYNC messages, to
         * every replica or to {@code queue} only, without starting the master; see {@link CqrsMaster#sync}.
         */
        public long sync(String cqrsId, String filter, String queue) {
            return sync(cqrsId, filter, queue, n -> { });
        }

        /** {@link #sync(String, String, String)}, telling {@code progress} the number of rows sent so far. */
        public long sync(String cqrsId, String filter, String queue, java.util.function.LongConsumer progress) {
            if (broker == null) throw new IllegalStateException("Say where the broker is: .broker(\"amqp://guest:guest@host:5672/\")");
            Map<String, ResolvedEntity> resolved = resolve();
            return sync(CqrsMaster.entity(resolved, cqrsId), filter, queue, messages(null), progress);
        }

        /**
         * How many rows of {@code cqrsId} match {@code filter} (null: all) now: the total for a
         * display of the progress of {@link #dump}, {@link #sync(String, String, String, java.util.function.LongConsumer) sync}
         * or {@link #diff} (which compares the master's rows, then the replica's).
         *
         * <pre>{@code
         * long total = builder.count("author", null);
         * }</pre>
         */
        public long count(String cqrsId, String filter) {
            ResolvedEntity e = CqrsMaster.entity(resolve(), cqrsId);
            try {
                return Snapshot.count(e, sourceDataSource(), filter);
            } catch (SQLException ex) {
                throw new ReplicationException("Could not count the rows of " + cqrsId + ": " + ex.getMessage(), ex);
            }
        }

        /**
         * Writes the current rows of {@code cqrsId} matching {@code filter} (null: all) to
         * {@code out}, one SYNC message body a line, from one consistent snapshot, streamed (memory
         * stays bounded whatever the table's size); {@code progress} gets the count so far. A replica
         * loads the file with {@link CqrsReplica.Builder#load}.
         *
         * @return how many rows were written
         */
        public long dump(String cqrsId, String filter, java.io.Writer out, java.util.function.LongConsumer progress) {
            Map<String, ResolvedEntity> resolved = resolve();
            ResolvedEntity e = CqrsMaster.entity(resolved, cqrsId);
            long[] n = {0};
            try {
                Snapshot.stream(e, sourceDataSource(), stateDataSource(), filter, messages(null), chunk -> {
                    for (io.annals.replication.wire.CqrsMessage m : chunk) {
                        out.write(new String(io.annals.replication.wire.CqrsWire.encode(m), java.nio.charset.StandardCharsets.US_ASCII));
                        out.write('\n');
                    }
                    n[0] += chunk.size();
                    progress.accept(n[0]);
                });
                out.flush();
                return n[0];
            } catch (ReplicationException ex) {
                throw ex;
            } catch (Exception ex) {
                throw new ReplicationException("The dump of " + cqrsId + " failed: " + ex.getMessage(), ex);
            }
        }

        /**
         * Compares {@code cqrsId}'s rows here with a replica's table: rows missing there, rows whose
         * revision there is older, rows there that are gone here. With {@code repair}, sends exactly
         * the fixes (a SYNC per missing or stale row, a DELETE per row gone here) to {@code queue},
         * or to every replica when null. Keys of one column or of several. Streams both sides; memory
         * stays bounded; {@code progress} gets the number of rows compared so far (the master's, then the replica's).
         *
         * <pre>{@code
         * CqrsMaster.DiffResult d = CqrsMaster.builder(log).broker(uri).entity(author)
         *         .diff("author", replicaDataSource, ReplicaTable.builder("author").build(), true, "svc", n -> {});
         * }</pre>
         */
        public DiffResult diff(String cqrsId, DataSource replica, ReplicaTable table, boolean repair, String queue,
                               java.util.function.LongConsumer progress) {
            if (repair && broker == null) throw new IllegalStateException("A repair sends messages: say where the broker is: .broker(...)");
            if (!table.cqrsId().equals(cqrsId)) throw new IllegalArgumentException("The replica table is for " + table.cqrsId() + ", not " + cqrsId);
            Map<String, ResolvedEntity> resolved = resolve();
            ResolvedEntity e = CqrsMaster.entity(resolved, cqrsId);
            try (Publisher p = repair ? new Publisher(broker, "annals diff", confirmTimeout) : null) {
                Diff.Result r = Diff.run(e, sourceDataSource(), stateDataSource(), io.annals.replication.replica.ReplicaRows.open(replica, table),
                        messages(null), p, queue, progress);
                return new DiffResult(r.missing(), r.stale(), r.extra(), r.sent(), r.missingKeys(), r.staleKeys(), r.extraKeys());
            } catch (ReplicationException ex) {
                throw ex;
            } catch (Exception ex) {
                throw new ReplicationException("The diff of " + cqrsId + " failed: " + ex.getMessage(), ex);
            }
        }

        private MasterHandler messages(Publisher publisher) {
            return new MasterHandler(List.of(), sourceDataSource(), publisher, expiresAfter);
        }

        private DataSource stateDataSource() {
            DataSource ds = state == null ? changeLog.dataSource() : state;
            Revisions.migrate(ds);
            return ds;
        }

        private DataSource sourceDataSource() {
            return source == null ? changeLog.dataSource() : source;
        }

        private Map<String, ResolvedEntity> resolve() {
            Map<String, ResolvedEntity> out = new LinkedHashMap<>();
            try (Connection c = sourceDataSource().getConnection()) {
                for (CqrsEntity e : entities) out.put(e.cqrsId(), ResolvedEntity.resolve(e, c, decimals));
            } catch (SQLException e) {
                throw new ReplicationException("Could not read the source tables' columns: " + e.getMessage(), e);
            }
            return out;
        }

        private long sync(ResolvedEntity e, String filter, String queue, MasterHandler messages, java.util.function.LongConsumer progress) {
            long[] n = {0};
            try (Publisher p = new Publisher(broker, "annals sync", confirmTimeout)) {
                return Snapshot.stream(e, sourceDataSource(), stateDataSource(), filter, messages, chunk -> {
                    p.publish(chunk, queue);
                    n[0] += chunk.size();
                    progress.accept(n[0]);
                });
            } catch (ReplicationException ex) {
                throw ex;
            } catch (Exception ex) {
                throw new ReplicationException("The sync of " + e.cqrsId() + " failed: " + ex.getMessage(), ex);
            }
        }
    }
}
