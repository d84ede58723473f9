package io.annals.capture.crash;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.annals.testkit.TestPostgres;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Writes transactions of random inserts, updates and deletes to tables shaped
 * {@code (id bigint PRIMARY KEY, name text, qty int)} and remembers every row change it committed, in
 * commit order, as the change log must hold it. Every change is distinct: ids are never reused and
 * every update writes a name no other change wrote.
 */
final class Workload implements AutoCloseable {

    /** A row change as the change log must record it: table, primary key, operation, after image. */
    record Change(String table, JsonNode key, String operation, JsonNode after) {
        @Override
        public String toString() {
            return operation + " " + table + " " + key + (after == null ? "" : " -> " + after);
        }
    }

    static final ObjectMapper JSON = new ObjectMapper();

    private final Connection connection;
    private final List<String> tables;
    private final Random random;
    private final Map<String, List<Long>> liveIds = new HashMap<>();
    private final Map<String, PreparedStatement[]> statements = new HashMap<>();
    private final List<Change> committed = new ArrayList<>();
    private final List<Change> pending = new ArrayList<>();
    private long nextId = 1;
    private long version;

    Workload(String url, List<String> tables, long seed) throws SQLException {
        this.connection = TestPostgres.connect(url);
        this.tables = List.copyOf(tables);
        this.random = new Random(seed);
        try (Statement s = connection.createStatement()) {
            for (String t : tables) {
                s.execute("CREATE TABLE IF NOT EXISTS " + t + " (id bigint PRIMARY KEY, name text NOT NULL, qty int NOT NULL)");
                liveIds.put(t, new ArrayList<>());
                statements.put(t, new PreparedStatement[]{
                        connection.prepareStatement("INSERT INTO " + t + " (id, name, qty) VALUES (?, ?, ?)"),
                        connection.prepareStatement("UPDATE " + t + " SET name = ?, qty = ? WHERE id = ?"),
                        connection.prepareStatement("DELETE FROM " + t + " WHERE id = ?")});
            }
        }
        connection.setAutoCommit(false);
    }

    /** Runs one transaction of {@code size} random row changes and commits it. */
    List<Change> transaction(int size) throws SQLException {
        return transaction(0, size);
    }

    /**
     * Runs one transaction that first inserts {@code bulkInserts} rows into one table in a single JDBC
     * batch (fast enough to make transactions large enough for PostgreSQL to stream them before they
     * commit), then makes {@code size} random row changes, and commits it.
     */
    List<Change> transaction(int bulkInserts, int size) throws SQLException {
        write(bulkInserts, size);
        return commit();
    }

    /** Makes changes as {@link #transaction(int, int)} does, but leaves the transaction open. */
    void write(int bulkInserts, int size) throws SQLException {
        try {
            if (bulkInserts > 0) {
                String table = tables.get(random.nextInt(tables.size()));
                bulkInsert(table, bulkInserts, true);
            }
            for (int i = 0; i < size; i++) {
                String table = tables.get(random.nextInt(tables.size()));
                List<Long> live = liveIds.get(table);
                double r = random.nextDouble();
                PreparedStatement[] ps = statements.get(table);
                if (live.isEmpty() || r < 0.5) {
                    long id = nextId++;
                    String name = "row " + id;
                    int qty = random.nextInt(1000);
                    ps[0].setLong(1, id);
                    ps[0].setString(2, name);
                    ps[0].setInt(3, qty);
                    ps[0].executeUpdate();
                    live.add(id);
                    pending.add(change(table, id, "CREATE", name, qty));
                } else if (r < 0.8) {
                    long id = live.get(random.nextInt(live.size()));
                    String name = "version " + (++version);
                    int qty = random.nextInt(1000);
                    ps[1].setString(1, name);
                    ps[1].setInt(2, qty);
                    ps[1].setLong(3, id);
                    if (ps[1].executeUpdate() != 1) throw new IllegalStateException("row " + id + " of " + table + " is gone");
                    pending.add(change(table, id, "UPDATE", name, qty));
                } else {
                    long id = live.remove(random.nextInt(live.size()));
                    ps[2].setLong(1, id);
                    if (ps[2].executeUpdate() != 1) throw new IllegalStateException("row " + id + " of " + table + " is gone");
                    pending.add(change(table, id, "DELETE", null, 0));
                }
            }
        } catch (SQLException | RuntimeException e) {
            connection.rollback();
            throw e; // the bookkeeping is now wrong: the test fails anyway
        }
    }

    /**
     * Inside the open transaction, inserts {@code rows} rows into a savepoint and rolls back to it: a
     * subtransaction whose changes must never reach the change log.
     */
    void rolledBackSubtransaction(int rows) throws SQLException {
        String table = tables.get(random.nextInt(tables.size()));
        java.sql.Savepoint savepoint = connection.setSavepoint();
        bulkInsert(table, rows, false);
        connection.rollback(savepoint);
    }

    private void bulkInsert(String table, int rows, boolean keep) throws SQLException {
        PreparedStatement insert = statements.get(table)[0];
        for (int i = 0; i < rows; i++) {
            long id = nextId++;
            String name = "bulk " + id;
            int qty = random.nextInt(1000);
            insert.setLong(1, id);
            insert.setString(2, name);
            insert.setInt(3, qty);
            insert.addBatch();
            if (keep) {
                liveIds.get(table).add(id);
                pending.add(change(table, id, "CREATE", name, qty));
            }
        }
        insert.executeBatch();
    }

    /** Commits the open transaction; returns its changes. */
    List<Change> commit() throws SQLException {
        connection.commit();
        List<Change> changes = List.copyOf(pending);
        pending.clear();
        synchronized (committed) {
            committed.addAll(changes);
        }
        return changes;
    }

    /** Rolls the open transaction back; it must consist of inserts only. */
    void rollback() throws SQLException {
        connection.rollback();
        Map<String, java.util.Set<Long>> inserted = new HashMap<>();
        for (Change c : pending) {
            if (!c.operation().equals("CREATE")) throw new IllegalStateException("rollback() supports inserts only");
            inserted.computeIfAbsent(c.table(), t -> new java.util.HashSet<>()).add(c.key().get("id").asLong());
        }
        inserted.forEach((table, ids) -> liveIds.get(table).removeAll(ids));
        pending.clear();
    }

    /** Every change committed so far, in commit order. */
    List<Change> committed() {
        synchronized (committed) {
            return List.copyOf(committed);
        }
    }

    private static Change change(String table, long id, String operation, String name, int qty) {
        JsonNode key = json("{\"id\": " + id + "}");
        JsonNode after = name == null ? null
                : json("{\"id\": " + id + ", \"name\": \"" + name + "\", \"qty\": " + qty + "}");
        return new Change(table, key, operation, after);
    }

    static JsonNode json(String text) {
        if (text == null) return null;
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("Not JSON: " + text, e);
        }
    }

    @Override
    public void close() throws SQLException {
        connection.close();
    }
}
