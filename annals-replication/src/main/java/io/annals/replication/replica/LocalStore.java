package io.annals.replication.replica;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
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
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * A replica's database: its dialect, its tables' shapes (checked once), its tombstones; it makes
 * an {@link Applier} per worker. Also the replica side of {@code load}: messages from a file,
 * applied with the same rules as from the queue.
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

    /** Receives a chunk of keys. */
    @FunctionalInterface
    public interface Keys {
        void accept(List<JsonNode> keys) throws Exception;
    }

    /**
     * The {@code cqrs_revision} of each of {@code pks} (compact JSON, as {@link CqrsWire#json})
     * present in {@code cqrsId}'s table: for {@code diff}. Single-column keys only.
     */
    public Map<String, Integer> revisions(String cqrsId, List<JsonNode> pks) throws SQLException {
        TableShape t = shape(cqrsId);
        Map<String, Integer> out = new java.util.HashMap<>();
        if (pks.isEmpty()) return out;
        String key = dialect.quote(t.key().get(0));
        try (Connection c = database.getConnection()) {
            String sql = "SELECT " + key + ", cqrs_revision FROM " + dialect.qualified(t) + " WHERE " + key
                    + (dialect.postgres() ? " = ANY(CAST(? AS text[])::" + t.columns().get(t.key().get(0)).typeName() + "[])"
                    : " IN (" + String.join(", ", java.util.Collections.nCopies(pks.size(), "?")) + ")");
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                if (dialect.postgres()) {
                    ps.setArray(1, c.createArrayOf("text", pks.stream().map(p -> p.isTextual() ? p.textValue() : p.toString()).toArray()));
                } else {
                    for (int i = 0; i < pks.size(); i++) ps.setString(i + 1, pks.get(i).isTextual() ? pks.get(i).textValue() : pks.get(i).toString());
                }
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) out.put(CqrsWire.json(node(rs.getObject(1))), rs.getInt(2));
                }
            }
        }
        return out;
    }

    /** Streams every key of {@code cqrsId}'s table, {@code chunk} at a time, from one consistent read: for {@code diff}. */
    public void keys(String cqrsId, int chunk, Keys sink) throws Exception {
        TableShape t = shape(cqrsId);
        try (Connection c = database.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("SELECT " + dialect.quote(t.key().get(0)) + " FROM " + dialect.qualified(t))) {
                ps.setFetchSize(chunk); // a cursor on PostgreSQL (autocommit off), streamed rows on MariaDB
                try (ResultSet rs = ps.executeQuery()) {
                    List<JsonNode> keys = new java.util.ArrayList<>(chunk);
                    while (rs.next()) {
                        keys.add(node(rs.getObject(1)));
                        if (keys.size() == chunk) {
                            sink.accept(keys);
                            keys = new java.util.ArrayList<>(chunk);
                        }
                    }
                    if (!keys.isEmpty()) sink.accept(keys);
                }
            }
            c.commit();
        }
    }

    private TableShape shape(String cqrsId) {
        TableShape t = shapes.get(cqrsId);
        if (t == null) throw new io.annals.replication.ReplicationException("The replica has no table for cqrs_id '" + cqrsId + "'");
        if (t.key().size() != 1) {
            throw new io.annals.replication.ReplicationException("diff compares tables with a single-column key; " + t.name()
                    + " has " + t.key());
        }
        return t;
    }

    private static JsonNode node(Object v) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        return switch (v) {
            case null -> f.nullNode();
            case Integer i -> f.numberNode(i);
            case Long l -> f.numberNode(l);
            case Short sh -> f.numberNode(sh);
            case java.math.BigInteger b -> f.numberNode(b);
            case java.math.BigDecimal d -> d.scale() <= 0 ? f.numberNode(d.toBigIntegerExact()) : f.numberNode(d);
            default -> f.textNode(v.toString());
        };
    }

    Map<String, TableShape> shapes() {
        return shapes;
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
     * Applies each line of {@code in} (a message body, as {@code annals cqrs dump} writes them),
     * one transaction each, with the same ordering rules as from the queue; a line that cannot be
     * applied is reported to {@code errors} with its line number and skipped.
     */
    public LoadResult load(BufferedReader in, java.util.function.Consumer<String> errors, LongConsumer progress) throws IOException, SQLException {
        long applied = 0;
        long ignored = 0;
        long failed = 0;
        long line = 0;
        Applier a = applier();
        try {
            for (String text; (text = in.readLine()) != null; ) {
                line++;
                if (text.isBlank()) continue;
                try {
                    CqrsMessage m = CqrsWire.decode(text.getBytes(StandardCharsets.UTF_8));
                    if (a.apply(m) == Applier.Outcome.APPLIED) applied++;
                    else ignored++;
                } catch (WireException | PoisonException e) {
                    failed++;
                    errors.accept("line " + line + ": " + e.getMessage());
                } catch (SQLException e) {
                    if (e.getSQLState() != null && (e.getSQLState().startsWith("08") || e.getSQLState().startsWith("57"))) throw e;
                    failed++;
                    errors.accept("line " + line + ": " + e.getMessage());
                } catch (Exception e) {
                    failed++;
                    errors.accept("line " + line + ": " + e);
                }
                progress.accept(line);
                if (line % 1_000 == 0) a.barrier();
            }
            a.barrier();
        } finally {
            a.close();
        }
        return new LoadResult(applied, ignored, failed);
    }
}
