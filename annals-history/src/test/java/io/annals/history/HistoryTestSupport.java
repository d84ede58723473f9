package io.annals.history;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.annals.changelog.ChangeLog;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.testkit.TestPostgres;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

/**
 * A migrated change log on the shared embedded PostgreSQL, filled with known changes written
 * straight into {@code annals.changes} (no capture worker: fast and deterministic).
 */
public abstract class HistoryTestSupport {

    public static final ObjectMapper JSON = new ObjectMapper();
    public static final Instant T0 = Instant.parse("2026-11-01T10:00:00Z");

    /** A fresh database with a migrated, empty change log. */
    public static String newChangeLog(String prefix) {
        String url = TestPostgres.newDatabase(prefix);
        ChangeLog.at(url).migrate();
        return url;
    }

    public static JsonNode json(String text) {
        if (text == null) return null;
        try {
            return JSON.readTree(text);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(text, e);
        }
    }

    /** One row to write into annals.changes. */
    public record Row(Position position, long xid, Instant committedAt, String schema, String table, Operation operation,
               String primaryKey, String before, String after, List<String> changedColumns, String context) {
    }

    public static void insert(String url, List<Row> rows) {
        if (rows.isEmpty()) return;
        // annals.changes is partitioned by commit time: writes other than ChangeLogWriter's prepare their partitions
        ChangeLog.at(url).preparePartitions(rows.stream().map(Row::committedAt).min(Instant::compareTo).orElseThrow(),
                rows.stream().map(Row::committedAt).max(Instant::compareTo).orElseThrow());
        try (Connection c = TestPostgres.connect(url); PreparedStatement ps = c.prepareStatement(
                "INSERT INTO annals.changes (position, transaction_id, committed_at, database, \"schema\", \"table\","
                        + " operation, primary_key, before, after, changed_columns, context)"
                        + " VALUES (?, ?, ?, current_database(), ?, ?, ?, ?::jsonb, ?::jsonb, ?::jsonb, ?, ?::jsonb)")) {
            for (Row r : rows) {
                ps.setString(1, r.position().toString());
                ps.setLong(2, r.xid());
                ps.setObject(3, OffsetDateTime.ofInstant(r.committedAt(), ZoneOffset.UTC));
                ps.setString(4, r.schema());
                ps.setString(5, r.table());
                ps.setString(6, r.operation().name());
                ps.setString(7, r.primaryKey());
                ps.setString(8, r.before());
                ps.setString(9, r.after());
                ps.setArray(10, r.changedColumns() == null ? null : c.createArrayOf("text", r.changedColumns().toArray()));
                ps.setString(11, r.context());
                ps.addBatch();
            }
            ps.executeBatch();
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /** Builds rows transaction by transaction, with increasing commit LSNs and times. */
    public static final class Log {
        public final List<Row> rows = new ArrayList<>();
        private long lsn = 0x1000;
        private long ordinal;
        private long xid = 99;
        private Instant at = T0.minusSeconds(3600);

        /** Starts the next transaction, committed an hour after the previous one. */
        public Log tx() {
            lsn += 0x1000;
            ordinal = 0;
            xid++;
            at = at.plusSeconds(3600);
            return this;
        }

        public Log add(String table, Operation op, String pk, String before, String after, List<String> changed, String context) {
            int dot = table.indexOf('.');
            rows.add(new Row(Position.of(lsn, ordinal++), xid, at, table.substring(0, dot), table.substring(dot + 1), op,
                    pk, before, after, changed, context));
            return this;
        }
    }

    /**
     * The shared fixture, written out of position order (ids do not follow positions):
     * <pre>
     * xid 100 @T0     CREATE public.orders 1 (user 42, /orders); CREATE public.orders 2 (user 42)
     * xid 101 @T0+1h  UPDATE public.orders 1 status new->paid, key-only before (user 7); CREATE public.customers 1
     * xid 102 @T0+2h  UPDATE public.orders 2 status, amount, full before (user 42, /pay)
     * xid 103 @T0+3h  DELETE public.orders 1 (key-only before); CREATE shop.orders 1
     * xid 104 @T0+4h  TRUNCATE public.customers; CREATE public.line_items (2, 1); SNAPSHOT public.customers 9
     * </pre>
     */
    public static List<Row> fixture() {
        Log log = new Log();
        log.tx()
                .add("public.orders", Operation.CREATE, "{\"id\": 1}", null,
                        "{\"id\": 1, \"status\": \"new\", \"amount\": 10.50, \"note\": null}",
                        List.of("id", "status", "amount", "note"), "{\"user_id\": 42, \"endpoint\": \"/orders\"}")
                .add("public.orders", Operation.CREATE, "{\"id\": 2}", null,
                        "{\"id\": 2, \"status\": \"new\", \"amount\": 99, \"note\": \"x\"}",
                        List.of("id", "status", "amount", "note"), "{\"user_id\": 42}");
        log.tx()
                .add("public.orders", Operation.UPDATE, "{\"id\": 1}", "{\"id\": 1}",
                        "{\"id\": 1, \"status\": \"paid\", \"amount\": 10.50, \"note\": null}",
                        List.of("status"), "{\"user_id\": 7}")
                .add("public.customers", Operation.CREATE, "{\"id\": 1}", null, "{\"id\": 1, \"name\": \"Ann\"}",
                        List.of("id", "name"), "{}");
        log.tx()
                .add("public.orders", Operation.UPDATE, "{\"id\": 2}",
                        "{\"id\": 2, \"status\": \"new\", \"amount\": 99, \"note\": \"x\"}",
                        "{\"id\": 2, \"status\": \"paid\", \"amount\": 120, \"note\": \"x\"}",
                        List.of("status", "amount"), "{\"user_id\": 42, \"endpoint\": \"/pay\"}");
        log.tx()
                .add("public.orders", Operation.DELETE, "{\"id\": 1}", "{\"id\": 1}", null, List.of("id"), "{}")
                .add("shop.orders", Operation.CREATE, "{\"id\": 1}", null, "{\"id\": 1, \"status\": \"paid\"}",
                        List.of("id", "status"), "{}");
        log.tx()
                .add("public.customers", Operation.TRUNCATE, null, null, null, null, "{}")
                .add("public.line_items", Operation.CREATE, "{\"order_id\": 2, \"line\": 1}", null,
                        "{\"order_id\": 2, \"line\": 1, \"line_number\": 1, \"sku\": \"A-1\"}",
                        List.of("order_id", "line", "line_number", "sku"), "{}")
                .add("public.customers", Operation.SNAPSHOT, "{\"id\": 9}", null, "{\"id\": 9, \"name\": \"Zed\"}",
                        null, "{}");
        return log.rows;
    }

    /** A fresh change log holding {@link #fixture()}, inserted in a scrambled order. */
    public static String fixtureChangeLog(String prefix) {
        String url = newChangeLog(prefix);
        List<Row> rows = new ArrayList<>(fixture());
        List<Row> scrambled = new ArrayList<>();
        for (int i = 0; i < rows.size(); i += 2) scrambled.add(rows.get(i));
        for (int i = rows.size() - 1; i >= 0; i--) if (i % 2 == 1) scrambled.add(rows.get(i));
        insert(url, scrambled);
        return url;
    }

    /** The fixture's positions, as text, for the rows that satisfy {@code filter}. */
    public static List<String> positions(java.util.function.Predicate<Row> filter) {
        return fixture().stream().filter(filter).map(r -> r.position().toString()).toList();
    }

    public static List<String> positionsOf(List<Change> changes) {
        return changes.stream().map(c -> c.position().toString()).toList();
    }

    /** The plan PostgreSQL chooses for {@code query} ({@code EXPLAIN}), for tests outside this package. */
    public static List<String> explain(ChangeQuery query) {
        return query.explain();
    }
}
