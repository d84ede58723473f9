package io.annals.history.revert;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.Sql;
import io.annals.context.AnnalsContext;
import io.annals.context.ContextDataSource;
import io.annals.history.LiveDatabase;
import io.annals.history.Truth;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;

import javax.sql.DataSource;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Reverts checked against the truth. Random requests write two tables through
 * {@link ContextDataSource}, each under its own {@code request_id}: request R1 only rows whose key
 * is 0 modulo 3, request R2 only rows whose key is 1 modulo 3, and a stream of other requests only
 * the rest, interleaved. Because the key spaces are disjoint, the truth after undoing a request is
 * simple: its rows as copied before the workload, every other row as it is now.
 *
 * <ul>
 *   <li>Reverting R1 gives exactly that; reverting the revert gives back the state before it.
 *   <li>After request X changes some of R2's rows, reverting R2 under FAIL refuses and writes
 *       nothing, naming exactly X's rows; under SKIP it reverts everything else and leaves exactly
 *       X's rows as X left them.
 * </ul>
 */
class RevertRoundTripPropertyTest {

    private static final String[] TEXTS = {"plain", "it's", "say \"hi\"", "naïve café", "日本語", "🎉", "back\\slash", ""};
    private static final String[] JSONS = {"{\"a\": 1}", "{\"n\": {\"x\": [1, 2.50]}}", "[]", "\"s'q\"", "{\"u\": \"ü\"}"};
    private static final String[] KS = {"x", "y'z"};
    private static final AtomicInteger TRIES = new AtomicInteger();
    private static LiveDatabase db;

    private static synchronized LiveDatabase db() {
        if (db == null) db = LiveDatabase.create("revert_truth");
        return db;
    }

    @AfterContainer
    static void stop() {
        if (db != null) db.close();
    }

    /** Which request owns a row: its key modulo 3. */
    enum Actor {
        R1(0), R2(1), OTHER(2);

        final int space;

        Actor(int space) {
            this.space = space;
        }
    }

    @Property(tries = 5, shrinking = ShrinkingMode.OFF)
    void revertingARequestUndoesExactlyItsChangesAndConflictsAreNeverOverwritten(
            @ForAll long seed, @ForAll @IntRange(min = 8, max = 24) int steps) throws SQLException {
        LiveDatabase db = db();
        int n = TRIES.incrementAndGet();
        Workload w = new Workload(n, new Random(seed));
        // Unique per try (a seed can come up twice): each try's requests touch only its own tables.
        String r1 = "r1 'ü' " + n + "/" + Long.toHexString(seed);
        String r2 = "r2 " + n + "/" + Long.toHexString(seed);
        try (Truth truth = new Truth(db.url)) {
            // rev counts a row's updates, so that every update changes a value (an update that changes
            // nothing has nothing to revert, and so cannot conflict).
            db.execute("CREATE TABLE " + w.a + " (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(10,2),"
                            + " tags text[], meta jsonb, at timestamptz, blob bytea, rev int NOT NULL DEFAULT 0)",
                    "CREATE TABLE " + w.b + " (k text, n int, v text, qty numeric(8,3), rev int NOT NULL DEFAULT 0,"
                            + " PRIMARY KEY (k, n))");
            DataSource app = ContextDataSource.wrap(db.dataSource);
            w.seedRows(app);
            copy(db, w, "s0");

            // Both requests write at least once, R2 first by updating an existing row, so that the
            // conflict phase always has a row to contest.
            w.step(app, Actor.R2, Map.of("request_id", r2), 1, true);
            w.step(app, Actor.R1, Map.of("request_id", r1, "user_id", 7), 1, false);
            for (int i = 0; i < steps; i++) {
                Actor actor = Actor.values()[w.random.nextInt(3)];
                Map<String, Object> context = switch (actor) {
                    case R1 -> Map.of("request_id", r1, "user_id", 7);
                    case R2 -> Map.of("request_id", r2);
                    // Another request whose id only starts like R1's: containment matches whole values.
                    case OTHER -> Map.of("request_id", r1 + "/" + i);
                };
                w.step(app, actor, context, 1 + w.random.nextInt(3), false);
            }
            copy(db, w, "f");
            db.sync();

            // Revert R1: its rows as before the workload, everything else as now.
            RevertPlan plan = db.trail.revert(db.trail.changes().contextContains(Map.of("request_id", r1))).plan();
            assertThat(plan.conflicts()).isEmpty();
            assertThat(plan.changes()).isEqualTo(w.changes.get(Actor.R1));
            RevertPlan.Outcome outcome = plan.apply();
            assertThat(outcome.applied()).isEqualTo(w.changes.get(Actor.R1));
            assertEquals(truth, w.a, "SELECT * FROM f_" + w.a + " WHERE id % 3 <> 0 UNION ALL SELECT * FROM s0_" + w.a
                    + " WHERE id % 3 = 0");
            assertEquals(truth, w.b, "SELECT * FROM f_" + w.b + " WHERE n % 3 <> 0 UNION ALL SELECT * FROM s0_" + w.b
                    + " WHERE n % 3 = 0");

            // Revert the revert: back to the state before it.
            db.sync();
            RevertPlan again = db.trail.revertTransaction(outcome.transactionId()).plan();
            assertThat(again.conflicts()).isEmpty();
            assertThat(again.revertOf()).containsEntry("transaction_id", outcome.transactionId());
            again.apply();
            assertEquals(truth, w.a, "TABLE f_" + w.a);
            assertEquals(truth, w.b, "TABLE f_" + w.b);

            // Request X changes some rows R2 touched: reverting R2 conflicts on exactly those rows.
            Contested x = w.contest(app, r2);
            copy(db, w, "g");
            db.sync();
            RevertPlan failing = db.trail.revert(db.trail.changes().contextContains(Map.of("request_id", r2))).plan();
            assertThat(failing.blocked()).as("plan %s after X changed %s", failing.sql(), x).isTrue();
            assertThat(failing.conflicts()).allSatisfy(c ->
                    assertThat(c.kind()).isEqualTo(RevertPlan.ConflictKind.CHANGED_LATER));
            assertThat(keysOf(failing.conflicts(), w)).isEqualTo(x.keys());
            assertThatThrownBy(failing::apply).isInstanceOf(RevertConflictException.class)
                    .hasMessageContaining("nothing was written");
            assertEquals(truth, w.a, "TABLE g_" + w.a);
            assertEquals(truth, w.b, "TABLE g_" + w.b);

            RevertPlan skipping = db.trail.revert(db.trail.changes().contextContains(Map.of("request_id", r2)))
                    .onConflict(ConflictPolicy.SKIP).plan();
            assertThat(skipping.steps().size() + skipping.conflicts().size()).isEqualTo(skipping.changes());
            RevertPlan.Outcome skipped = skipping.apply();
            assertThat(keysOf(skipped.skipped(), w)).isEqualTo(x.keys());
            assertEquals(truth, w.a, "SELECT * FROM g_" + w.a + " WHERE id % 3 <> 1 OR " + x.a()
                    + " UNION ALL SELECT * FROM s0_" + w.a + " WHERE id % 3 = 1 AND NOT " + x.a());
            assertEquals(truth, w.b, "SELECT * FROM g_" + w.b + " WHERE n % 3 <> 1 OR " + x.b()
                    + " UNION ALL SELECT * FROM s0_" + w.b + " WHERE n % 3 = 1 AND NOT " + x.b());
        }
    }

    /** The rows of {@code table} that are not in {@code expected} (+) and those of {@code expected} not in it (-): none. */
    private static void assertEquals(Truth truth, String table, String expected) {
        List<String> differences = truth.column("SELECT '+ ' || to_jsonb(x)::text FROM (TABLE " + table
                + " EXCEPT ALL (" + expected + ")) x UNION ALL SELECT '- ' || to_jsonb(y)::text FROM ((" + expected
                + ") EXCEPT ALL TABLE " + table + ") y");
        assertThat(differences).as("%s compared with %s", table, expected).isEmpty();
    }

    private static void copy(LiveDatabase db, Workload w, String prefix) {
        db.execute("CREATE TABLE " + prefix + "_" + w.a + " AS TABLE " + w.a,
                "CREATE TABLE " + prefix + "_" + w.b + " AS TABLE " + w.b);
    }

    /** The rows the conflicts are about, in the notation of {@link Workload#keyOf}. */
    private static Set<String> keysOf(List<RevertPlan.Conflict> conflicts, Workload w) {
        return conflicts.stream().map(c -> w.keyOf(c.change().table(), c.change().primaryKey()))
                .collect(Collectors.toCollection(TreeSet::new));
    }

    /** The rows request X changed: their keys, and SQL conditions selecting them in each table. */
    record Contested(Set<String> keys, String a, String b) {
    }

    /** Two fresh tables, the keys alive in them, and the request steps that write them. */
    private static final class Workload {
        final String a;
        final String b;
        final Random random;
        final Set<Long> aliveA = new TreeSet<>();
        final Set<String> aliveB = new TreeSet<>(); // "k|n"
        /** Row changes made per actor (each statement changes exactly one row). */
        final Map<Actor, Integer> changes = new LinkedHashMap<>(Map.of(Actor.R1, 0, Actor.R2, 0, Actor.OTHER, 0));
        /** R2's rows: every key it wrote, and the keys a key change of its moved from or to. */
        final Set<String> touchedByR2 = new LinkedHashSet<>();
        final Set<String> movedByR2 = new LinkedHashSet<>();

        Workload(int n, Random random) {
            this.a = "ra_" + n;
            this.b = "rb_" + n;
            this.random = random;
        }

        void seedRows(DataSource app) throws SQLException {
            try (Connection c = app.getConnection()) {
                for (long id = 1; id <= 15; id++) insertA(c, id);
                for (String k : KS) for (int nn = 1; nn <= 9; nn++) insertB(c, k, nn);
            }
        }

        /** One transaction of {@code actor} under {@code context}: {@code statements} single-row writes in its key space. */
        @SuppressWarnings("try")
        void step(DataSource app, Actor actor, Map<String, Object> context, int statements, boolean updateOnly)
                throws SQLException {
            try (AnnalsContext.Scope ignored = AnnalsContext.with(context); Connection c = app.getConnection()) {
                c.setAutoCommit(false);
                for (int i = 0; i < statements; i++) {
                    if (random.nextBoolean()) writeA(c, actor, updateOnly);
                    else writeB(c, actor, updateOnly);
                    changes.merge(actor, 1, Integer::sum);
                }
                c.commit();
            }
        }

        private void writeA(Connection c, Actor actor, boolean updateOnly) throws SQLException {
            List<Long> mine = aliveA.stream().filter(id -> id % 3 == actor.space).toList();
            long fresh = freshA(actor);
            int op = updateOnly ? 1 : random.nextInt(10);
            if (mine.isEmpty() || op == 0 || op == 9) {
                insertA(c, fresh);
                note(actor, "a:" + fresh, null);
                return;
            }
            long id = mine.get(random.nextInt(mine.size()));
            if (op <= 5) {
                switch (random.nextInt(3)) {
                    case 0 -> run(c, "UPDATE " + a + " SET name = ?, amount = ?, rev = rev + 1 WHERE id = ?", text(), decimal(2), id);
                    case 1 -> run(c, "UPDATE " + a + " SET tags = ?, meta = ?::jsonb, rev = rev + 1 WHERE id = ?", array(), json(), id);
                    default -> run(c, "UPDATE " + a + " SET at = ?, blob = ?, rev = rev + 1 WHERE id = ?", time(), bytes(), id);
                }
                note(actor, "a:" + id, null);
            } else if (op <= 7) {
                run(c, "UPDATE " + a + " SET id = ? WHERE id = ?", fresh, id);
                aliveA.remove(id);
                aliveA.add(fresh);
                note(actor, "a:" + fresh, "a:" + id);
            } else {
                run(c, "DELETE FROM " + a + " WHERE id = ?", id);
                aliveA.remove(id);
                note(actor, "a:" + id, null);
            }
        }

        private void writeB(Connection c, Actor actor, boolean updateOnly) throws SQLException {
            List<String> mine = aliveB.stream().filter(key -> n(key) % 3 == actor.space).toList();
            String fresh = freshB(actor);
            int op = updateOnly ? 1 : random.nextInt(10);
            if (mine.isEmpty() || op == 0 || op == 9) {
                insertB(c, k(fresh), n(fresh));
                note(actor, "b:" + fresh, null);
                return;
            }
            String key = mine.get(random.nextInt(mine.size()));
            if (op <= 5) {
                run(c, "UPDATE " + b + " SET v = ?, qty = ?, rev = rev + 1 WHERE k = ? AND n = ?", random.nextInt(4) == 0 ? null : text(),
                        decimal(3), k(key), n(key));
                note(actor, "b:" + key, null);
            } else if (op <= 7) {
                run(c, "UPDATE " + b + " SET k = ?, n = ? WHERE k = ? AND n = ?", k(fresh), n(fresh), k(key), n(key));
                aliveB.remove(key);
                aliveB.add(fresh);
                note(actor, "b:" + fresh, "b:" + key);
            } else {
                run(c, "DELETE FROM " + b + " WHERE k = ? AND n = ?", k(key), n(key));
                aliveB.remove(key);
                note(actor, "b:" + key, null);
            }
        }

        private void note(Actor actor, String key, String movedFrom) {
            if (actor != Actor.R2) return;
            touchedByR2.add(key);
            if (movedFrom != null) {
                touchedByR2.add(movedFrom);
                movedByR2.add(key);
                movedByR2.add(movedFrom);
            }
        }

        /**
         * Request X updates (or deletes) a few rows R2 wrote, among those alive and never moved by
         * a key change of R2's: R2's changes of exactly those rows now conflict.
         */
        @SuppressWarnings("try")
        Contested contest(DataSource app, String r2) throws SQLException {
            List<String> candidates = touchedByR2.stream().filter(key -> !movedByR2.contains(key))
                    .filter(key -> key.startsWith("a:") ? aliveA.contains(Long.parseLong(key.substring(2)))
                            : aliveB.contains(key.substring(2))).toList();
            assertThat(candidates).as("R2 updated an existing row first").isNotEmpty();
            Set<String> chosen = new TreeSet<>();
            for (String key : candidates) if (random.nextInt(3) == 0) chosen.add(key);
            if (chosen.isEmpty()) chosen.add(candidates.get(random.nextInt(candidates.size())));
            List<String> inA = new ArrayList<>();
            List<String> inB = new ArrayList<>();
            try (AnnalsContext.Scope ignored = AnnalsContext.with(Map.of("request_id", "x-" + r2));
                 Connection c = app.getConnection()) {
                for (String key : chosen) {
                    boolean delete = random.nextInt(4) == 0;
                    if (key.startsWith("a:")) {
                        long id = Long.parseLong(key.substring(2));
                        run(c, delete ? "DELETE FROM " + a + " WHERE id = ?" : "UPDATE " + a + " SET name = 'X ' || name WHERE id = ?", id);
                        inA.add(String.valueOf(id));
                    } else {
                        String kn = key.substring(2);
                        run(c, delete ? "DELETE FROM " + b + " WHERE k = ? AND n = ?"
                                : "UPDATE " + b + " SET v = coalesce(v, '') || ' X' WHERE k = ? AND n = ?", k(kn), n(kn));
                        inB.add("(" + Sql.literal(k(kn)) + ", " + n(kn) + ")");
                    }
                }
            }
            return new Contested(chosen, inA.isEmpty() ? "false" : "id IN (" + String.join(", ", inA) + ")",
                    inB.isEmpty() ? "false" : "(k, n) IN (" + String.join(", ", inB) + ")");
        }

        /** A row's key in the notation used above: {@code a:<id>} or {@code b:<k>|<n>}. */
        String keyOf(String table, JsonNode primaryKey) {
            if (table.equals("public." + a)) return "a:" + primaryKey.get("id").asLong();
            assertThat(table).isEqualTo("public." + b);
            return "b:" + primaryKey.get("k").asText() + "|" + primaryKey.get("n").asInt();
        }

        private long freshA(Actor actor) {
            long id;
            do {
                id = 3L * random.nextInt(1, 40) + actor.space;
            } while (aliveA.contains(id));
            return id;
        }

        private String freshB(Actor actor) {
            String key;
            do {
                key = KS[random.nextInt(KS.length)] + "|" + (3 * random.nextInt(0, 20) + actor.space);
            } while (aliveB.contains(key));
            return key;
        }

        private void insertA(Connection c, long id) throws SQLException {
            run(c, "INSERT INTO " + a + " VALUES (?, ?, ?, ?, ?::jsonb, ?, ?)", id, text(), decimal(2), array(), json(),
                    time(), bytes());
            aliveA.add(id);
        }

        private void insertB(Connection c, String k, int n) throws SQLException {
            run(c, "INSERT INTO " + b + " VALUES (?, ?, ?, ?)", k, n, text(), decimal(3));
            aliveB.add(k + "|" + n);
        }

        private static String k(String key) {
            return key.substring(0, key.indexOf('|'));
        }

        private static int n(String key) {
            return Integer.parseInt(key.substring(key.indexOf('|') + 1));
        }

        private static void run(Connection c, String sql, Object... params) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                Truth.bind(c, ps, params);
                assertThat(ps.executeUpdate()).as("rows changed by %s", sql).isEqualTo(1);
            }
        }

        private String text() {
            return TEXTS[random.nextInt(TEXTS.length)];
        }

        private BigDecimal decimal(int scale) {
            if (random.nextInt(6) == 0) return null;
            return BigDecimal.valueOf(random.nextLong(-9_999_999, 9_999_999), scale);
        }

        private String[] array() {
            if (random.nextInt(4) == 0) return null;
            String[] out = new String[random.nextInt(3)];
            for (int i = 0; i < out.length; i++) out[i] = random.nextInt(5) == 0 ? null : text();
            return out;
        }

        private Truth.Json json() {
            return new Truth.Json(random.nextInt(5) == 0 ? null : JSONS[random.nextInt(JSONS.length)]);
        }

        private OffsetDateTime time() {
            if (random.nextInt(4) == 0) return null;
            Instant at = Instant.ofEpochSecond(1_700_000_000L + random.nextInt(100_000_000), random.nextInt(1_000_000) * 1000L);
            return OffsetDateTime.ofInstant(at, ZoneOffset.ofHours(random.nextInt(-11, 14)));
        }

        private byte[] bytes() {
            if (random.nextInt(4) == 0) return null;
            byte[] out = new byte[random.nextInt(5)];
            random.nextBytes(out);
            return out;
        }
    }
}
