package io.annals.history.keyframes;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.history.AuditTrail;
import io.annals.history.HistoryTestSupport;
import io.annals.history.internal.LiveImages;
import io.annals.history.internal.TableName;
import io.annals.testkit.TestPostgres;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Random histories of a few rows (snapshot baseline, creates, updates, key changes, deletes,
 * truncates, grouped into transactions) with keyframes at random positions, built in random order:
 * the table as of every position (before the first keyframe, at each one, between and after them)
 * equals an in-memory replay, and so does each keyframe itself. Every read at or after the first
 * keyframe is checked to have started from the nearest one.
 */
class KeyframesPropertyTest extends HistoryTestSupport {

    private static String url;
    private static AuditTrail trail;
    private static final AtomicInteger TABLES = new AtomicInteger();

    private static synchronized AuditTrail trail() {
        if (trail == null) {
            url = newChangeLog("history_keyframes_property");
            trail = AuditTrail.of(url);
        }
        return trail;
    }

    enum Kind { WRITE, MOVE, DELETE, TRUNCATE }

    /** One generated step: what to do to which key (a move goes to {@code other}), and whether it starts a transaction. */
    record Step(Kind kind, int key, int other, boolean newTransaction) {
    }

    @Provide
    Arbitrary<List<Step>> steps() {
        Arbitrary<Kind> kinds = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(6, Arbitraries.just(Kind.WRITE)),
                net.jqwik.api.Tuple.of(2, Arbitraries.just(Kind.MOVE)),
                net.jqwik.api.Tuple.of(3, Arbitraries.just(Kind.DELETE)),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(Kind.TRUNCATE)));
        return Combinators.combine(kinds, Arbitraries.integers().between(1, 5), Arbitraries.integers().between(1, 5),
                Arbitraries.of(true, false)).as(Step::new).list().ofMinSize(1).ofMaxSize(30);
    }

    @Provide
    Arbitrary<Set<Integer>> snapshotKeys() {
        return Arbitraries.integers().between(1, 5).set().ofMaxSize(5);
    }

    /** Indexes (into the table's changes, taken modulo their number) where keyframes are built, in this order. */
    @Provide
    Arbitrary<List<Integer>> keyframeAt() {
        return Arbitraries.integers().between(0, 1000).list().ofMinSize(1).ofMaxSize(4);
    }

    @Property(tries = 40)
    void tableAsOfEveryPositionAcrossKeyframesMatchesAReplay(@ForAll("steps") List<Step> steps,
                                                             @ForAll("snapshotKeys") Set<Integer> snapshotKeys,
                                                             @ForAll("keyframeAt") List<Integer> keyframeAt) throws SQLException {
        AuditTrail t = trail();
        int n = TABLES.incrementAndGet();
        String table = "k" + n;
        long lsn = (long) n << 20;
        long ordinal = 0;
        Instant at = T0.plusSeconds(3600L * n);
        int version = 0;
        List<Row> rows = new ArrayList<>();
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
            Row row;
            switch (s.kind()) {
                case WRITE -> {
                    boolean update = alive.containsKey(s.key());
                    String image = image(s.key(), version++);
                    alive.put(s.key(), image);
                    row = new Row(Position.of(lsn, ordinal++), n, at, "public", table,
                            update ? Operation.UPDATE : Operation.CREATE, pk(s.key()), update ? pk(s.key()) : null,
                            image, null, "{}");
                }
                case MOVE -> {
                    // UPDATE ... SET id = other: logged under the new key, the old key in the before image
                    if (!alive.containsKey(s.key()) || alive.containsKey(s.other())) continue;
                    String image = image(s.other(), version++);
                    alive.remove(s.key());
                    alive.put(s.other(), image);
                    row = new Row(Position.of(lsn, ordinal++), n, at, "public", table, Operation.UPDATE, pk(s.other()),
                            pk(s.key()), image, List.of("id", "v", "s"), "{}");
                }
                case DELETE -> {
                    if (!alive.containsKey(s.key())) continue;
                    alive.remove(s.key());
                    row = new Row(Position.of(lsn, ordinal++), n, at, "public", table, Operation.DELETE, pk(s.key()),
                            pk(s.key()), null, null, "{}");
                }
                default -> {
                    alive.clear();
                    row = new Row(Position.of(lsn, ordinal++), n, at, "public", table, Operation.TRUNCATE, null, null,
                            null, null, "{}");
                }
            }
            rows.add(row);
            expected.add(List.copyOf(alive.values()));
        }
        Assume.that(!rows.isEmpty());
        insert(url, rows);

        Keyframes keyframes = t.keyframes();
        TreeSet<Integer> built = new TreeSet<>();
        for (int k : keyframeAt) {
            int index = k % rows.size();
            Keyframe kf = keyframes.build(table, rows.get(index).position());
            assertThat(kf.position()).isEqualTo(rows.get(index).position());
            assertThat(kf.rows()).as("rows of the keyframe at %s", kf.position()).isEqualTo(expected.get(index).size());
            built.add(index);
        }
        assertThat(keyframes.list(table)).extracting(Keyframe::position)
                .containsExactlyElementsOf(built.stream().map(i -> rows.get(i).position()).toList());
        Statistics.label("keyframes").collect(built.size());
        Statistics.label("first keyframe after the first change").collect(built.first() > 0);

        for (int i = 0; i < rows.size(); i++) {
            Position cut = rows.get(i).position();
            List<JsonNode> want = expected.get(i).stream().map(HistoryTestSupport::json).toList();
            try (Stream<JsonNode> got = t.asOf(cut).table(table)) {
                assertThat(got.toList()).as("%s as of %s", table, cut).isEqualTo(want);
            }
            Integer nearest = built.floor(i);
            assertThat(keyframeUsed(table, cut)).as("the keyframe a read as of %s starts from", cut)
                    .isEqualTo(Optional.ofNullable(nearest).map(x -> rows.get(x).position()));
            for (int key = 1; key <= 5; key++) {
                int k = key;
                assertThat(t.asOf(cut).row(table, Map.of("id", key))).as("%s %d as of %s", table, key, cut)
                        .isEqualTo(want.stream().filter(r -> r.get("id").asInt() == k).findFirst());
            }
        }
        // the materialized copy (rebuilt from the images: the table is not in the catalog) at the last position
        // (a copy with no rows has no image to take its columns from, keyframes or not: not checked here)
        if (expected.get(rows.size() - 1).isEmpty()) return;
        Position lastCut = rows.get(rows.size() - 1).position();
        t.asOf(lastCut).materialize(table).into("kf_copy_" + n);
        assertThat(TestPostgres.rows(url, "SELECT to_jsonb(r)::text FROM kf_copy_" + n + "." + table + " r ORDER BY id")
                .stream().map(HistoryTestSupport::json).toList())
                .isEqualTo(expected.get(rows.size() - 1).stream().map(HistoryTestSupport::json).toList());
    }

    /** The position of the keyframe a read of {@code table} as of {@code cut} starts from. */
    private static Optional<Position> keyframeUsed(String table, Position cut) throws SQLException {
        try (Connection c = TestPostgres.connect(url)) {
            c.setAutoCommit(false);
            LiveImages.Query q = LiveImages.at(c, TableName.parse(table), cut.toString());
            Optional<Position> out = q.keyframePosition().map(Position::parse);
            c.rollback();
            return out;
        }
    }

    private static String pk(int key) {
        return "{\"id\": " + key + "}";
    }

    private static String image(int key, int version) {
        return "{\"id\": " + key + ", \"v\": " + version + ", \"s\": \"k" + key + "v" + version + "\"}";
    }
}
