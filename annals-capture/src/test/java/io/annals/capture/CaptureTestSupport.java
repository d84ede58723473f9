package io.annals.capture;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.AfterEach;

import java.sql.Array;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Shared helpers for the capture worker's integration tests: a fresh database per test on the
 * shared embedded PostgreSQL, workers with a short heartbeat, and typed access to
 * {@code annals.changes}. Slots of the databases a test created are dropped after it, so that the
 * shared server's slot limit is not exhausted by a long test run.
 */
abstract class CaptureTestSupport {

    static final Duration CATCH_UP = Duration.ofSeconds(30);
    static final ObjectMapper JSON = new ObjectMapper();

    private final List<String> databases = new ArrayList<>();

    /** A fresh database on the shared PostgreSQL 18; dropped (with its slots) after the test. */
    String newDatabase(String prefix) {
        String url = TestPostgres.newDatabase(prefix);
        databases.add(url);
        return url;
    }

    @AfterEach
    void dropSlotsAndDatabases() {
        for (String url : databases) {
            String name = databaseName(url);
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            try (Connection c = TestPostgres.connect(url.replace("/" + name + "?", "/postgres?"));
                 Statement s = c.createStatement()) {
                while (true) {
                    try (ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_replication_slots WHERE database = '"
                            + name + "' AND active")) {
                        rs.next();
                        if (rs.getLong(1) == 0 || System.nanoTime() > deadline) break;
                    }
                    Thread.sleep(50);
                }
                s.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '"
                        + name + "' AND NOT active");
                s.execute("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
            } catch (SQLException | RuntimeException e) {
                // Best effort: a leftover database costs disk space only.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        databases.clear();
    }

    static String databaseName(String url) {
        int slash = url.lastIndexOf('/');
        int q = url.indexOf('?', slash);
        return url.substring(slash + 1, q < 0 ? url.length() : q);
    }

    /** Options as the tests use them: a short heartbeat so that an idle source catches up fast. */
    static CaptureOptions.Builder options(String url) {
        return CaptureOptions.builder(url).heartbeatInterval(Duration.ofMillis(500));
    }

    static CaptureWorker start(String url) {
        return CaptureWorker.start(options(url).build());
    }

    static CaptureWorker start(CaptureOptions.Builder options) {
        return CaptureWorker.start(options.build());
    }

    /** Runs each statement in autocommit mode. */
    static void sql(String url, String... statements) {
        TestPostgres.execute(url, statements);
    }

    /** The rows of a query, each column as text. */
    static List<List<String>> query(String url, String sql) {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery(sql)) {
            List<List<String>> out = new ArrayList<>();
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                List<String> row = new ArrayList<>(n);
                for (int i = 1; i <= n; i++) row.add(rs.getString(i));
                out.add(row);
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage() + " in: " + sql, e);
        }
    }

    /** The single value of a query, as text. */
    static String scalar(String url, String sql) {
        List<List<String>> rows = query(url, sql);
        assertThat(rows).as("rows of %s", sql).hasSize(1);
        return rows.get(0).get(0);
    }

    static JsonNode json(String text) {
        if (text == null) return null;
        try {
            return JSON.readTree(text);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("not JSON: " + text, e);
        }
    }

    /** One row of {@code annals.changes}. */
    record Change(long id, String position, long transactionId, OffsetDateTime committedAt, String database,
                  String schema, String table, String operation, JsonNode primaryKey, JsonNode before,
                  JsonNode after, List<String> changedColumns, JsonNode context) {

        String lsnPart() {
            return position.substring(0, 16);
        }

        long ordinal() {
            return Long.parseLong(position.substring(17), 16);
        }

        @Override
        public String toString() {
            return position + " " + operation + " " + schema + "." + table + " pk=" + primaryKey + " before=" + before
                    + " after=" + after + " changed=" + changedColumns + " ctx=" + context;
        }
    }

    /** Every change, in insertion (id) order. */
    static List<Change> changes(String url) {
        return changes(url, "true");
    }

    /** The changes that satisfy {@code where} (over annals.changes), in insertion (id) order. */
    static List<Change> changes(String url, String where) {
        String sql = "SELECT id, position, transaction_id, committed_at, database, \"schema\", \"table\", operation,"
                + " primary_key::text, before::text, after::text, changed_columns, context::text"
                + " FROM annals.changes WHERE " + where + " ORDER BY id";
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            List<Change> out = new ArrayList<>();
            while (rs.next()) {
                Array cols = rs.getArray(12);
                List<String> changed = cols == null ? null : Arrays.asList((String[]) cols.getArray());
                out.add(new Change(rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getObject(4, OffsetDateTime.class),
                        rs.getString(5), rs.getString(6), rs.getString(7), rs.getString(8), json(rs.getString(9)),
                        json(rs.getString(10)), json(rs.getString(11)), changed, json(rs.getString(13))));
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /** The changes of one table (schema public), in insertion order. */
    static List<Change> changesOf(String url, String table) {
        return changes(url, "\"schema\" = 'public' AND \"table\" = '" + table + "'");
    }

    /** The changes of one table that are not part of the initial snapshot. */
    static List<Change> streamedChangesOf(String url, String table) {
        return changes(url, "\"schema\" = 'public' AND \"table\" = '" + table + "' AND operation <> 'SNAPSHOT'");
    }

    /** Positions are unique, and the log was written in position order. */
    static void assertPositionsStrictlyIncreasing(List<Change> changes) {
        for (int i = 1; i < changes.size(); i++) {
            assertThat(changes.get(i).position())
                    .as("position of change %d (%s) after change %d", i, changes.get(i), i - 1)
                    .isGreaterThan(changes.get(i - 1).position());
        }
        assertThat(changes.stream().map(Change::position).distinct().count()).isEqualTo(changes.size());
    }

    /** Position uniqueness and order over the whole change log. */
    static void assertWholeLogOrdered(String url) {
        assertThat(scalar(url, "SELECT count(*) = count(DISTINCT position) FROM annals.changes")).isEqualTo("t");
        assertPositionsStrictlyIncreasing(changes(url));
    }

    static ObjectNode object(Object... keyValues) {
        ObjectNode node = JSON.createObjectNode();
        for (int i = 0; i < keyValues.length; i += 2) {
            node.set((String) keyValues[i], JSON.valueToTree(keyValues[i + 1]));
        }
        return node;
    }

    /** The live rows of {@code table} as {@code to_jsonb}, keyed by their primary key object. */
    static Map<JsonNode, JsonNode> liveRows(String url, String table, List<String> keyColumns) {
        StringBuilder key = new StringBuilder("jsonb_build_object(");
        for (int i = 0; i < keyColumns.size(); i++) {
            if (i > 0) key.append(", ");
            key.append('\'').append(keyColumns.get(i)).append("', t.\"").append(keyColumns.get(i)).append('"');
        }
        key.append(')');
        Map<JsonNode, JsonNode> out = new HashMap<>();
        for (List<String> row : query(url, "SELECT " + key + "::text, to_jsonb(t)::text FROM public.\"" + table + "\" t")) {
            out.put(json(row.get(0)), json(row.get(1)));
        }
        return out;
    }

    /**
     * Replays the history of every row of {@code table} (its SNAPSHOT, then its changes in position
     * order) and asserts that it yields exactly the live table: no row both in the snapshot and
     * created by the stream, no change to a row the history does not know (a gap), before images
     * that agree with the replayed state, and the same final rows.
     */
    static void assertHistoryReplaysToLiveTable(String url, String table, List<String> keyColumns) {
        List<Change> history = changesOf(url, table);
        history = new ArrayList<>(history);
        history.sort((a, b) -> a.position().compareTo(b.position()));
        Map<JsonNode, JsonNode> state = new LinkedHashMap<>();
        String lastSnapshot = null;
        String firstStreamed = null;
        List<String> problems = new ArrayList<>();
        for (Change c : history) {
            switch (c.operation()) {
                case "SNAPSHOT" -> {
                    lastSnapshot = c.position();
                    if (state.put(c.primaryKey(), c.after()) != null) problems.add("two snapshots of one row: " + c);
                    if (!Objects.equals(keyOf(c.after(), keyColumns), c.primaryKey())) problems.add("snapshot key mismatch: " + c);
                }
                case "CREATE" -> {
                    if (firstStreamed == null) firstStreamed = c.position();
                    if (state.containsKey(c.primaryKey())) {
                        problems.add("CREATE of a row that already exists (in snapshot and stream?): " + c
                                + " existing " + state.get(c.primaryKey()));
                    }
                    if (!Objects.equals(keyOf(c.after(), keyColumns), c.primaryKey())) problems.add("key mismatch: " + c);
                    state.put(c.primaryKey(), c.after());
                }
                case "UPDATE" -> {
                    if (firstStreamed == null) firstStreamed = c.position();
                    JsonNode oldKey = keyOf(c.before(), keyColumns);
                    JsonNode known = state.get(oldKey);
                    if (known == null) {
                        problems.add("UPDATE of a row the history does not know (gap): " + c);
                    } else if (!contains(known, c.before())) {
                        problems.add("before image disagrees with the replayed row " + known + ": " + c);
                    }
                    state.remove(oldKey);
                    if (!Objects.equals(keyOf(c.after(), keyColumns), c.primaryKey())) problems.add("key mismatch: " + c);
                    state.put(c.primaryKey(), c.after());
                }
                case "DELETE" -> {
                    if (firstStreamed == null) firstStreamed = c.position();
                    JsonNode known = state.remove(c.primaryKey());
                    if (known == null) {
                        problems.add("DELETE of a row the history does not know (gap): " + c);
                    } else if (!contains(known, c.before())) {
                        problems.add("before image disagrees with the replayed row " + known + ": " + c);
                    }
                }
                case "TRUNCATE" -> {
                    if (firstStreamed == null) firstStreamed = c.position();
                    state.clear();
                }
                default -> problems.add("unexpected operation: " + c);
            }
        }
        assertThat(problems).as("history of %s", table).isEmpty();
        if (lastSnapshot != null && firstStreamed != null) {
            assertThat(lastSnapshot).as("snapshot positions sort before streamed ones").isLessThan(firstStreamed);
        }
        Map<JsonNode, JsonNode> live = liveRows(url, table, keyColumns);
        assertThat(state.keySet()).as("rows of %s after replaying the change log", table)
                .containsExactlyInAnyOrderElementsOf(live.keySet());
        List<String> differing = new ArrayList<>();
        for (Map.Entry<JsonNode, JsonNode> e : live.entrySet()) {
            if (!e.getValue().equals(state.get(e.getKey()))) {
                differing.add(e.getKey() + ": live " + e.getValue() + " replayed " + state.get(e.getKey()));
            }
        }
        assertThat(differing).as("rows whose replayed image differs from to_jsonb of the live row").isEmpty();
    }

    static JsonNode keyOf(JsonNode image, List<String> keyColumns) {
        if (image == null) return null;
        ObjectNode key = JSON.createObjectNode();
        for (String k : keyColumns) key.set(k, image.get(k));
        return key;
    }

    /** Every field of {@code part} is in {@code whole} with the same value. */
    static boolean contains(JsonNode whole, JsonNode part) {
        if (part == null) return true;
        for (var it = part.properties().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (!e.getValue().equals(whole.get(e.getKey()))) return false;
        }
        return true;
    }
}
