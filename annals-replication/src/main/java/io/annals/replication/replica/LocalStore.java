package io.annals.replication.replica;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.replication.ReplicaTable;
import io.annals.replication.wire.CqrsMessage;
import io.annals.replication.wire.CqrsWire;
import io.annals.replication.wire.WireException;

import javax.sql.DataSource;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * A replica's database: its dialect, its tables' shapes (checked once), its tombstones; it makes
 * an {@link Applier} per worker. Also the replica side of {@code load}: messages from a file,
 * applied with the same rules as from the queue. ({@code diff} reads a table by key through {@link ReplicaRows}.)
 *
 * <pre>{@code
 * LocalStore store = LocalStore.open(dataSource, List.of(authors), "cqrs_tombstones");
 * LocalStore.LoadResult r = store.load(reader, System.err::println, n -> { });
 * }</pre>
 */
public final class LocalStore {

    /** What a load did. */
    public record LoadResult(long applied, long ignored, long failed) {
    }

    private final DataSource database;
    private final Dialect dialect;
    private final Map<String, TableShape> shapes;
    private final String tombstones;

    private LocalStore(DataSource database, Dialect dialect, Map<String, TableShape> shapes, String tombstones) {
        this.database = database;
        this.dialect = dialect;
        this.shapes = shapes;
        this.tombstones = tombstones;
    }

    /** Checks every table and creates the tombstone table if missing. */
    public static LocalStore open(DataSource database, List<ReplicaTable> tables, String tombstones) throws SQLException {
        return open(database, tables, tombstones, true);
    }

    /** Checks every table; creates the tombstone table if missing and {@code writing} (a diff only reads). */
    public static LocalStore open(DataSource database, List<ReplicaTable> tables, String tombstones, boolean writing)
            throws SQLException {
        try (Connection c = database.getConnection()) {
            Dialect dialect = Dialect.of(c);
            Map<String, TableShape> s = new LinkedHashMap<>();
            for (ReplicaTable t : tables) s.put(t.cqrsId(), TableShape.read(c, t, dialect.postgres()));
            c.setAutoCommit(true);
            if (writing) dialect.createTombstones(c, tombstones);
            return new LocalStore(database, dialect, Map.copyOf(s), tombstones);
        }
    }

    Map<String, TableShape> shapes() {
        return shapes;
    }

    /** {@code m} ready for {@link Applier#applyBatch}, or null when it must be applied alone; needs no connection. */
    Applier.Prepared prepare(CqrsMessage m) {
        return Applier.prepare(shapes, m);
    }

    Applier applier() throws SQLException {
        return new Applier(dialect, database.getConnection(), shapes, tombstones);
    }

    /** Deletes the tombstones older than {@code age}; returns how many. */
    public int pruneTombstones(Duration age) throws SQLException {
        try (Connection c = database.getConnection()) {
            c.setAutoCommit(true);
            return dialect.pruneTombstones(c, tombstones, age);
        }
    }

    /**
     * Applies each line of {@code in} (a message body, as {@code annals cqrs dump} writes them)
     * with the same ordering rules as from the queue; a line that cannot be applied is reported to
     * {@code errors} with its line number and skipped. On PostgreSQL, consecutive SAVE and SYNC
     * lines of one table are sent {@value #LOAD_BATCH} at a time in one round trip and one
     * transaction (a bulk load is not a live replica: the rows of a dump are independent); a batch
     * that fails is rolled back and applied again line by line, one transaction each, so that only
     * the bad lines are reported and skipped. Elsewhere, one transaction per line.
     */
    public LoadResult load(BufferedReader in, java.util.function.Consumer<String> errors, LongConsumer progress) throws IOException, SQLException {
        long[] counts = new long[3]; // applied, ignored, failed
        Applier single = applier();
        try (Connection batchConnection = dialect.postgres() ? database.getConnection() : null) {
            Batch batch = null;
            long line = 0;
            for (String text; (text = in.readLine()) != null; ) {
                line++;
                if (text.isBlank()) continue;
                CqrsMessage m;
                try {
                    m = CqrsWire.decode(text.getBytes(StandardCharsets.UTF_8));
                } catch (WireException e) {
                    counts[2]++;
                    errors.accept("line " + line + ": " + e.getMessage());
                    continue;
                }
                Batch.Item item = batchConnection == null ? null : Batch.item(this, m, line);
                if (item == null) {
                    if (batch != null) batch = batch.flush(single, counts, errors);
                    applyOne(single, m, line, counts, errors);
                } else {
                    if (batch != null && (!batch.sql.equals(item.sql()) || batch.items.size() >= LOAD_BATCH)) batch = batch.flush(single, counts, errors);
                    if (batch == null) batch = new Batch(batchConnection, item.sql());
                    batch.add(item);
                }
                progress.accept(line);
                if (line % LOAD_BATCH == 0) single.barrier();
            }
            if (batch != null) batch.flush(single, counts, errors);
            single.barrier();
        } finally {
            single.close();
        }
        return new LoadResult(counts[0], counts[1], counts[2]);
    }

    static final int LOAD_BATCH = 1_000;

    private static void applyOne(Applier a, CqrsMessage m, long line, long[] counts, java.util.function.Consumer<String> errors)
            throws SQLException {
        try {
            counts[a.apply(m) == Applier.Outcome.APPLIED ? 0 : 1]++;
        } catch (PoisonException e) {
            counts[2]++;
            errors.accept("line " + line + ": " + e.getMessage());
        } catch (SQLException e) {
            if (e.getSQLState() != null && (e.getSQLState().startsWith("08") || e.getSQLState().startsWith("57"))) throw e;
            counts[2]++;
            errors.accept("line " + line + ": " + e.getMessage());
        } catch (Exception e) {
            counts[2]++;
            errors.accept("line " + line + ": " + e);
        }
    }

    /** Consecutive upserts of one table with the same columns, sent together. */
    private static final class Batch {
        record Item(String sql, Map<String, JsonNode> row, CqrsMessage message, String pk, Dialect.State incoming, long line) {
        }

        final Connection connection;
        final String sql;
        final java.util.List<Item> items = new java.util.ArrayList<>();
        final PreparedStatement statement;
        final Dialect.Postgres pg = new Dialect.Postgres();

        Batch(Connection connection, String sql) throws SQLException {
            this.connection = connection;
            this.sql = sql;
            connection.setAutoCommit(false);
            this.statement = connection.prepareStatement(sql);
        }

        /** The batched form of {@code m}, or null when it must go on its own (a DELETE, a handler, something to report). */
        static Item item(LocalStore store, CqrsMessage m, long line) {
            TableShape t = store.shapes.get(m.cqrsId());
            if (t == null || m.signalType() == io.annals.replication.wire.SignalType.DELETE || t.config().handler() != null) return null;
            try {
                Map<String, JsonNode> key = Applier.key(t, m);
                Dialect.State incoming = new Dialect.State(m.revision(), m.updated());
                Map<String, JsonNode> row = Applier.row(t, m, key, incoming.updated());
                String pk = CqrsWire.json(m.instancePk());
                if (pk.length() > 500) return null;
                Dialect.Postgres pg = (Dialect.Postgres) store.dialect;
                String sql = pg.upsertSql(t, row.keySet(), m.signalType() == io.annals.replication.wire.SignalType.SYNC, store.tombstones);
                return new Item(sql, row, m, pk, incoming, line);
            } catch (WireException e) {
                return null; // applied alone, which reports it
            }
        }

        void add(Item item) throws SQLException {
            pg.bindUpsert(statement, item.row(), item.message().cqrsId(), item.pk(), item.incoming());
            statement.addBatch();
            items.add(item);
        }

        /** Sends the batch; on a failure rolls it back and applies its lines one by one. Returns null (no batch open). */
        Batch flush(Applier single, long[] counts, java.util.function.Consumer<String> errors) throws SQLException {
            try {
                int[] written = statement.executeBatch();
                connection.commit();
                for (int w : written) counts[w > 0 ? 0 : 1]++;
            } catch (SQLException e) {
                connection.rollback();
                if (e.getSQLState() != null && (e.getSQLState().startsWith("08") || e.getSQLState().startsWith("57"))) throw e;
                for (Item i : items) applyOne(single, i.message(), i.line(), counts, errors);
            } finally {
                statement.close();
            }
            return null;
        }
    }
}
