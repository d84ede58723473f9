package io.annals.history.retention;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.history.AuditTrail;
import io.annals.history.Change;
import io.annals.history.HistoryException;
import io.annals.history.HistoryTestSupport;
import io.annals.history.timetravel.AsOf;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Random workloads over months (snapshot baseline, creates, updates, deletes, truncates, a table
 * without a primary key), written through ChangeLogWriter, then retention at a random cut: every
 * table and row as of every kept position, and as of the cut-off instant, is what it was before,
 * each row's history is its baseline plus its kept changes, and a second run changes nothing.
 */
class RetentionPropertyTest extends HistoryTestSupport {

    enum Kind { WRITE, DELETE, TRUNCATE, KEYLESS }

    /** One step: what to do to which key of which table, and how many days after the previous transaction (0: same one). */
    record Step(Kind kind, int table, int key, int daysLater) {
    }

    private static final Instant START = Instant.parse("2024-11-20T06:00:00Z");
    private static final List<String> TABLES = List.of("a", "b");

    @Provide
    Arbitrary<List<Step>> steps() {
        Arbitrary<Kind> kinds = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(8, Arbitraries.just(Kind.WRITE)),
                net.jqwik.api.Tuple.of(4, Arbitraries.just(Kind.DELETE)),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(Kind.TRUNCATE)),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(Kind.KEYLESS)));
        Arbitrary<Integer> days = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(3, Arbitraries.just(0)),
                net.jqwik.api.Tuple.of(5, Arbitraries.integers().between(1, 25)));
        return Combinators.combine(kinds, Arbitraries.integers().between(0, 1), Arbitraries.integers().between(1, 4), days)
                .as(Step::new).list().ofMinSize(1).ofMaxSize(40);
    }

    @Provide
    Arbitrary<Set<Integer>> snapshotKeys() {
        return Arbitraries.integers().between(1, 4).set().ofMaxSize(4);
    }

    @Property(tries = 20)
    void timeTravelFromTheCutOffIsTheSameBeforeAndAfterRetention(@ForAll("steps") List<Step> steps,
                                                                  @ForAll("snapshotKeys") Set<Integer> snapshotKeys,
                                                                  @ForAll @IntRange(min = 0, max = 100) int cutPercent) {
        RetentionTest.Changes log = new RetentionTest.Changes();
        Instant at = START;
        int version = 0;
        log.tx(at);
        for (int key : snapshotKeys) log.write("a", Operation.SNAPSHOT, key, image(key, version++));
        Map<String, Set<Integer>> alive = new LinkedHashMap<>();
        alive.put("a", new TreeSet<>(snapshotKeys));
        alive.put("b", new TreeSet<>());
        for (Step s : steps) {
            if (s.daysLater() > 0) {
                at = at.plus(Duration.ofDays(s.daysLater())).plusSeconds(s.key() * 37L);
                log.tx(at);
            }
            String table = TABLES.get(s.table());
            Set<Integer> keys = alive.get(table);
            switch (s.kind()) {
                case WRITE -> {
                    log.write(table, keys.contains(s.key()) ? Operation.UPDATE : Operation.CREATE, s.key(), image(s.key(), version++));
                    keys.add(s.key());
                }
                case DELETE -> {
                    if (keys.remove(s.key())) log.write(table, Operation.DELETE, s.key(), null);
                }
                case TRUNCATE -> {
                    log.write(table, Operation.TRUNCATE, null, null);
                    keys.clear();
                }
                case KEYLESS -> log.write("nokey", Operation.CREATE, null, "{\"v\": " + version++ + "}");
            }
        }
        // a last change well after the others, as capture would store sooner or later
        log.tx(at.plus(Duration.ofDays(40))).write("a", Operation.CREATE, 99, image(99, version));
        String url = newChangeLog("retention_property");
        log.into(url);
        AuditTrail trail = AuditTrail.of(url);
        List<ChangeRow> rows = log.rows;
        Instant end = rows.get(rows.size() - 1).committedAt();
        Instant target = START.plus(Duration.between(START, end).multipliedBy(cutPercent).dividedBy(100));
        Retention retention = trail.retention().keepFrom(target);
        long total = RetentionTest.count(url, "SELECT count(*) FROM annals.changes");

        Retention.Plan plan = retention.plan();
        Instant cutOff = plan.cutOff();
        // what time travel says before: as of the cut-off instant and as of every kept position
        List<AsOf> cuts = new ArrayList<>();
        cuts.add(trail.asOf(cutOff));
        for (ChangeRow r : rows) if (!r.committedAt().isBefore(cutOff)) cuts.add(trail.asOf(r.position()));
        List<List<String>> before = new ArrayList<>();
        for (AsOf cut : cuts) before.add(observe(cut));
        Map<String, List<Position>> historyBefore = histories(trail);

        Retention.Plan applied = retention.apply();
        assertThat(applied).isEqualTo(new Retention.Plan(plan.cutOff(), plan.lastDropped(), plan.partitions(),
                plan.baselineRows(), plan.tablesWithoutPrimaryKey(), !plan.isEmpty()));
        assertThat(RetentionTest.count(url, "SELECT count(*) FROM annals.changes"))
                .isEqualTo(total - plan.droppedChanges() + plan.baselineRows());
        assertThat(RetentionTest.count(url, "SELECT count(*) FROM annals.changes WHERE committed_at < '" + cutOff + "'")).isZero();
        if (!plan.isEmpty()) {
            assertThat(plan.tablesWithoutPrimaryKey()).isEqualTo(
                    rows.stream().anyMatch(r -> r.table().equals("nokey") && r.committedAt().isBefore(cutOff))
                            ? List.of("public.nokey") : List.of());
        }

        Map<String, Long> baseline = new LinkedHashMap<>();
        for (String t : TABLES) {
            baseline.put(t, RetentionTest.count(url, "SELECT count(*) FROM annals.changes WHERE \"table\" = '" + t
                    + "' AND context ? 'annals.retention'"));
        }
        for (int i = 0; i < cuts.size(); i++) {
            AsOf cut = i == 0 ? trail.asOf(cutOff) : cuts.get(i);
            List<String> after = observe(cut);
            for (int j = 0; j < after.size(); j++) {
                String table = TABLES.get(j / 5);
                String was = before.get(i).get(j);
                String now = after.get(j);
                if (now.equals("ERROR") && baseline.get(table) == 0 && (was.equals("[]") || was.equals("Optional.empty"))) {
                    // Documented limit: a table with changes before the cut-off but no row alive at it gets no
                    // baseline, so its log now begins at its first kept change.
                    continue;
                }
                assertThat(now).as("%s, observation %d of %s (cut-off %s)", cut, j, table, cutOff).isEqualTo(was);
            }
        }
        // each row's history: its baseline (when alive at the cut-off), then its kept changes
        Map<String, List<Position>> historyAfter = histories(trail);
        for (Map.Entry<String, List<Position>> h : historyBefore.entrySet()) {
            List<Position> kept = h.getValue().stream()
                    .filter(p -> rows.stream().anyMatch(r -> r.position().equals(p) && !r.committedAt().isBefore(cutOff)))
                    .toList();
            List<Position> got = historyAfter.get(h.getKey());
            assertThat(got.subList(got.size() - kept.size(), got.size())).as(h.getKey()).isEqualTo(kept);
            assertThat(got.size() - kept.size()).as("baseline rows of %s", h.getKey()).isBetween(0, 1);
        }

        Retention.Plan again = retention.apply();
        assertThat(again.isEmpty()).isTrue();
        assertThat(again.baselineRows()).isZero();
        assertThat(histories(trail)).isEqualTo(historyAfter);
    }

    /** The tables a and b and rows 1 to 4 of each as of {@code cut}, or "ERROR" where time travel refuses. */
    private static List<String> observe(AsOf cut) {
        List<String> out = new ArrayList<>();
        for (String t : TABLES) {
            try (Stream<JsonNode> rows = cut.table(t)) {
                out.add(rows.toList().toString());
            } catch (HistoryException e) {
                out.add("ERROR");
            }
            for (int key = 1; key <= 4; key++) {
                try {
                    Optional<JsonNode> row = cut.row(t, Map.of("id", key));
                    out.add(row.toString());
                } catch (HistoryException e) {
                    out.add("ERROR");
                }
            }
        }
        return out;
    }

    private static Map<String, List<Position>> histories(AuditTrail trail) {
        Map<String, List<Position>> out = new LinkedHashMap<>();
        for (String t : TABLES) {
            for (int key = 1; key <= 4; key++) {
                try {
                    out.put(t + key, trail.history(t, Map.of("id", key)).list().stream().map(Change::position).toList());
                } catch (HistoryException e) {
                    out.put(t + key, List.of()); // a table the workload never touched is unknown
                }
            }
        }
        return out;
    }

    private static String image(int key, int version) {
        return "{\"id\": " + key + ", \"v\": " + version + "}";
    }
}
