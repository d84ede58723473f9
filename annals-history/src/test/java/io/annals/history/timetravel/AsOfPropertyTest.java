package io.annals.history.timetravel;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.history.AuditTrail;
import io.annals.history.HistoryTestSupport;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Random histories of a few rows (snapshot baseline, creates, updates, deletes, truncates, grouped
 * into transactions): the table and each row as of every position equal a simple in-memory replay.
 */
class AsOfPropertyTest extends HistoryTestSupport {

    private static String url;
    private static AuditTrail trail;
    private static final AtomicInteger TABLES = new AtomicInteger();

    private static synchronized AuditTrail trail() {
        if (trail == null) {
            url = newChangeLog("history_as_of_property");
            trail = AuditTrail.of(url);
        }
        return trail;
    }

    enum Kind { WRITE, DELETE, TRUNCATE }

    /** One generated step: what to do to which key, and whether it starts a new transaction. */
    record Step(Kind kind, int key, boolean newTransaction) {
    }

    @Provide
    Arbitrary<List<Step>> steps() {
        Arbitrary<Kind> kinds = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(6, Arbitraries.just(Kind.WRITE)),
                net.jqwik.api.Tuple.of(3, Arbitraries.just(Kind.DELETE)),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(Kind.TRUNCATE)));
        return Combinators.combine(kinds, Arbitraries.integers().between(1, 4), Arbitraries.of(true, false))
                .as(Step::new).list().ofMinSize(1).ofMaxSize(25);
    }

    @Provide
    Arbitrary<Set<Integer>> snapshotKeys() {
        return Arbitraries.integers().between(1, 4).set().ofMaxSize(4);
    }

    @Property(tries = 40)
    void tableAndRowsAsOfEveryPositionMatchAReplay(@ForAll("steps") List<Step> steps,
                                                   @ForAll("snapshotKeys") Set<Integer> snapshotKeys) {
        AuditTrail t = trail();
        int n = TABLES.incrementAndGet();
        String table = "t" + n;
        long lsn = (long) n << 20;
        long ordinal = 0;
        // Each table's log lies later in both LSN and time than the previous one's, as in a real log,
        // where commit order is time order (the instant-to-position search relies on it).
        Instant at = T0.plusSeconds(3600L * n);
        int version = 0;
        List<Row> rows = new ArrayList<>();
        // the model: key -> image, replayed change by change; expected.get(i) is the table after rows.get(i)
        TreeMap<Integer, String> alive = new TreeMap<>();
        List<List<String>> expected = new ArrayList<>();
        for (int key : snapshotKeys) {
            String image = image(key, version++);
            rows.add(new Row(Position.of(lsn, ordinal++), n, at, "public", table, Operation.SNAPSHOT, pk(key), null,
                    image, null, "{}"));
            alive.put(key, image);
            expected.add(List.copyOf(alive.values()));
        }
        boolean first = true;
        for (Step s : steps) {
            if (s.newTransaction() || first) {
                first = false;
                lsn += 0x100;
                ordinal = 0;
                at = at.plusSeconds(60);
            }
            Operation op;
            String image = null;
            switch (s.kind()) {
                case WRITE -> {
                    op = alive.containsKey(s.key()) ? Operation.UPDATE : Operation.CREATE;
                    image = image(s.key(), version++);
                    alive.put(s.key(), image);
                }
                case DELETE -> {
                    if (!alive.containsKey(s.key())) continue; // a row that does not exist cannot be deleted
                    op = Operation.DELETE;
                    alive.remove(s.key());
                }
                default -> {
                    op = Operation.TRUNCATE;
                    alive.clear();
                }
            }
            rows.add(new Row(Position.of(lsn, ordinal++), n, at, "public", table, op,
                    op == Operation.TRUNCATE ? null : pk(s.key()), op == Operation.CREATE || op == Operation.TRUNCATE
                    ? null : pk(s.key()), image, null, "{}"));
            expected.add(List.copyOf(alive.values()));
        }
        Assume.that(!rows.isEmpty()); // only deletes of rows that never existed: nothing to replay
        insert(url, rows);

        for (int i = 0; i < rows.size(); i++) {
            AsOf asOf = t.asOf(rows.get(i).position());
            List<JsonNode> want = expected.get(i).stream().map(HistoryTestSupport::json).toList();
            try (Stream<JsonNode> got = asOf.table(table)) {
                assertThat(got.toList()).as("%s as of %s", table, rows.get(i).position()).isEqualTo(want);
            }
            for (int key = 1; key <= 4; key++) {
                Optional<JsonNode> row = asOf.row(table, Map.of("id", key));
                int k = key;
                Optional<JsonNode> wantRow = want.stream().filter(r -> r.get("id").asInt() == k).findFirst();
                assertThat(row).as("%s %d as of %s", table, key, rows.get(i).position()).isEqualTo(wantRow);
            }
        }
        // by instant: the last transaction committed at or before each row's commit time
        Row last = rows.get(rows.size() - 1);
        try (Stream<JsonNode> got = t.asOf(last.committedAt().plusSeconds(30)).table(table)) {
            assertThat(got.toList()).isEqualTo(expected.get(rows.size() - 1).stream().map(HistoryTestSupport::json).toList());
        }
    }

    private static String pk(int key) {
        return "{\"id\": " + key + "}";
    }

    private static String image(int key, int version) {
        return "{\"id\": " + key + ", \"v\": " + version + ", \"s\": \"k" + key + "v" + version + "\"}";
    }
}
