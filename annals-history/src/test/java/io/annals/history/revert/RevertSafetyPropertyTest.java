package io.annals.history.revert;

import io.annals.context.AnnalsContext;
import io.annals.context.ContextDataSource;
import io.annals.history.Change;
import io.annals.history.LiveDatabase;
import io.annals.testkit.TestPostgres;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.statistics.Statistics;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Reverts under every policy against the truth, on a table with a masked and an omitted column
 * (under REPLICA IDENTITY DEFAULT or FULL, drawn per try) and a plain one, with writes injected
 * between planning and applying that the plan cannot have seen.
 *
 * <p>Request R writes only odd keys, other requests only even ones, so R's revert concerns R's rows
 * alone. Before each of R's statements the test copies the row it is about to change, so it knows
 * each row's state before each of R's changes. After the revert:
 *
 * <ul>
 *   <li>no row holds the mask placeholder or the omitted column's default (the application never
 *       writes either, so only a revert could have);
 *   <li>the changes reported reverted and skipped are exactly R's changes, each once, and a row's
 *       reverted changes are its newest ones (a row is never reverted halfway back);
 *   <li>every row is exactly as the outcome says: as before its oldest reverted change, or as it
 *       was just before the revert when none of its changes were reverted; under FAIL and SKIP that
 *       includes every row a write was injected into (a write the plan did not see is never
 *       overwritten); under FORCE those rows are only checked for placeholders and defaults;
 *   <li>a refused revert writes nothing.
 * </ul>
 */
class RevertSafetyPropertyTest {

    private static final String[] TEXTS = {"plain", "it's", "back\\slash", "naïve", "", "****", "****x"};
    private static final String[] AMOUNTS = {"2.5", "2.50", "10", "10.000", "-0.1", "1e3"};
    private static final AtomicInteger TRIES = new AtomicInteger();
    private static LiveDatabase db;

    private static synchronized LiveDatabase db() {
        if (db == null) {
            db = LiveDatabase.create("revert_safety_prop",
                    b -> b.maskColumns(List.of("public.sa_*.secret")).omitColumns(List.of("public.sa_*.note")));
        }
        return db;
    }

    @AfterContainer
    static void stop() {
        if (db != null) db.close();
    }

    @Property(tries = 25, shrinking = ShrinkingMode.OFF)
    void aRevertNeverWritesALostValueNorOverwritesAnUnseenWriteAndReportsExactlyWhatItDid(
            @ForAll long seed, @ForAll @IntRange(min = 4, max = 16) int steps) throws SQLException {
        LiveDatabase db = db();
        int n = TRIES.incrementAndGet();
        Random random = new Random(seed);
        ConflictPolicy policy = ConflictPolicy.values()[n % 3];
        boolean full = random.nextBoolean();
        // Half the tries R writes only the plain table and nobody writes "****" (which a revert takes
        // for a placeholder when the log lists nothing withheld), so that FAIL and FORCE have
        // something they can apply; the other half R also writes the masked and omitted columns.
        boolean plainOnly = random.nextBoolean();
        Workload w = new Workload("sa_" + n, "sp_" + n, random, plainOnly);
        db.execute("CREATE TABLE " + w.sa + " (id int PRIMARY KEY, name text NOT NULL, secret text,"
                        + " note text DEFAULT 'DEFAULT', amount numeric, rev int NOT NULL DEFAULT 0)",
                "CREATE TABLE " + w.sp + " (id int PRIMARY KEY, v text, amount numeric, rev int NOT NULL DEFAULT 0)");
        if (full) db.execute("ALTER TABLE " + w.sa + " REPLICA IDENTITY FULL");
        DataSource app = ContextDataSource.wrap(db.dataSource);
        String request = "r-" + n + "-" + Long.toHexString(seed);
        try (Connection c = app.getConnection()) {
            for (int id = 1; id <= 8; id++) {
                w.insert(c, w.sa, id);
                w.insert(c, w.sp, id);
            }
        }
        for (int i = 0; i < steps; i++) {
            boolean mine = i == 0 || random.nextInt(3) > 0;
            w.step(app, mine ? Map.of("request_id", request) : Map.of("request_id", request + "/other-" + i), mine);
        }
        db.sync();

        RevertPlan plan = db.trail.revert(db.trail.changes().contextContains(Map.of("request_id", request)))
                .onConflict(policy).plan();
        Set<String> injected = w.inject(random);
        Map<String, String> beforeApply = w.state();

        RevertPlan.Outcome outcome;
        try {
            outcome = plan.apply();
        } catch (RevertConflictException refused) {
            Statistics.label("outcome").collect(policy, "refused", refused.conflicts().get(0).kind());
            assertThat(policy).as("only FAIL and FORCE refuse").isNotEqualTo(ConflictPolicy.SKIP);
            assertThat(w.state()).as("a refused revert writes nothing").isEqualTo(beforeApply);
            return;
        }

        Statistics.label("outcome").collect(policy, "applied", outcome.skipped().isEmpty() ? "nothing skipped"
                : outcome.reverted().isEmpty() ? "all skipped" : "some skipped");
        Statistics.label("injected writes").collect(policy, injected.isEmpty() ? "none" : "some");

        // Nothing the log did not keep was written.
        assertThat(w.column("SELECT count(*) FROM " + w.sa + " WHERE secret = '****' OR note = 'DEFAULT'"))
                .as("rows holding the placeholder or the omitted column's default").containsExactly("0");

        // Exactly R's changes are accounted for, each once, in the order the workload made them.
        List<Change> changes = db.trail.changes().contextContains(Map.of("request_id", request)).list();
        assertThat(changes).hasSize(w.mine.size());
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < changes.size(); i++) {
            Change c = changes.get(i);
            Written m = w.mine.get(i);
            assertThat(c.table()).isEqualTo(m.table());
            assertThat(c.primaryKey().get("id").asInt()).isEqualTo(m.id());
            index.put(c.position().toString(), i);
        }
        Set<Integer> reverted = new TreeSet<>();
        for (RevertPlan.ChangeRef r : outcome.reverted()) assertThat(reverted.add(index.get(r.position().toString()))).isTrue();
        Set<Integer> skipped = new TreeSet<>();
        for (RevertPlan.Conflict c : outcome.skipped()) {
            assertThat(skipped.add(index.get(c.change().position().toString()))).as("reported once: %s", c).isTrue();
        }
        Set<Integer> both = new TreeSet<>(reverted);
        both.retainAll(skipped);
        assertThat(both).as("changes reported both reverted and skipped").isEmpty();
        assertThat(reverted.size() + skipped.size()).as("every change of R reverted or skipped, under %s", policy)
                .isEqualTo(changes.size());
        if (policy == ConflictPolicy.FAIL) assertThat(skipped).isEmpty();

        // Each row as the outcome says.
        Map<String, String> expected = new TreeMap<>(beforeApply);
        Map<String, List<Integer>> byRow = new LinkedHashMap<>();
        for (int i = 0; i < w.mine.size(); i++) byRow.computeIfAbsent(w.mine.get(i).row(), k -> new ArrayList<>()).add(i);
        byRow.forEach((row, indexes) -> {
            List<Integer> undone = indexes.stream().filter(reverted::contains).toList();
            if (undone.isEmpty()) return;
            assertThat(undone).as("%s: the reverted changes are its newest", row)
                    .isEqualTo(indexes.subList(indexes.size() - undone.size(), indexes.size()));
            String state = w.mine.get(undone.get(0)).before();
            if (state == null) expected.remove(row);
            else expected.put(row, state);
        });
        Map<String, String> actual = new TreeMap<>(w.state());
        if (policy == ConflictPolicy.FORCE) {
            for (String row : injected) {
                expected.remove(row);
                actual.remove(row);
            }
        } else {
            for (String row : injected) {
                assertThat(actual.get(row)).as("%s, written after the plan, is as that write left it", row)
                        .isEqualTo(beforeApply.get(row));
            }
        }
        assertThat(actual).as("tables after a %s revert (REPLICA IDENTITY %s) of %s; plan:%n%s", policy,
                full ? "FULL" : "DEFAULT", w.mine, plan.sql()).isEqualTo(expected);
    }

    /** One of R's writes: the row it changed and that row's state just before ({@code null}: absent). */
    record Written(String table, int id, String before) {
        String row() {
            return table + ":" + id;
        }
    }

    /** Two tables, and the writes of R (odd keys) and of other requests (even keys). */
    private static final class Workload {
        final String sa;
        final String sp;
        final Random random;
        final boolean plainOnly;
        final List<Written> mine = new ArrayList<>();
        private final Set<Integer> touched = new TreeSet<>();
        private int serial;

        Workload(String sa, String sp, Random random, boolean plainOnly) {
            this.sa = sa;
            this.sp = sp;
            this.random = random;
            this.plainOnly = plainOnly;
        }

        /** One transaction of one to three single-row writes, R's ({@code mine}) or another request's. */
        @SuppressWarnings("try")
        void step(DataSource app, Map<String, Object> context, boolean mine) throws SQLException {
            try (AnnalsContext.Scope ignored = AnnalsContext.with(context); Connection c = app.getConnection()) {
                c.setAutoCommit(false);
                int writes = 1 + random.nextInt(3);
                for (int i = 0; i < writes; i++) {
                    String table = (mine && plainOnly) || random.nextBoolean() ? sp : sa;
                    int id = 2 * random.nextInt(1, 7) - (mine ? 1 : 0);
                    String before = row(c, table, id);
                    if (before == null) {
                        insert(c, table, id);
                    } else if (random.nextInt(4) == 0) {
                        run(c, "DELETE FROM " + table + " WHERE id = ?", id);
                    } else {
                        update(c, table, id);
                    }
                    if (mine) {
                        mine(table, id, before);
                    }
                }
                c.commit();
            }
        }

        private void mine(String table, int id, String before) {
            this.mine.add(new Written(table, id, before));
            touched.add(table.equals(sa) ? id : -id);
        }

        void insert(Connection c, String table, int id) throws SQLException {
            if (table.equals(sa)) {
                run(c, "INSERT INTO " + sa + " (id, name, secret, note, amount) VALUES (?, ?, ?, ?, ?::numeric)", id, text(),
                        random.nextInt(4) == 0 ? null : "s" + serial++, random.nextInt(5) == 0 ? null : text(), amount());
            } else {
                run(c, "INSERT INTO " + sp + " (id, v, amount) VALUES (?, ?, ?::numeric)", id, text(), amount());
            }
        }

        /** Every update changes rev, so that no change of R is one with nothing to undo. */
        private void update(Connection c, String table, int id) throws SQLException {
            if (table.equals(sa)) {
                switch (random.nextInt(4)) {
                    case 0 -> run(c, "UPDATE " + sa + " SET name = ?, amount = ?::numeric, rev = rev + 1 WHERE id = ?", text(), amount(), id);
                    case 1 -> run(c, "UPDATE " + sa + " SET secret = ?, rev = rev + 1 WHERE id = ?",
                            random.nextInt(4) == 0 ? null : "s" + serial++, id);
                    case 2 -> run(c, "UPDATE " + sa + " SET note = ?, rev = rev + 1 WHERE id = ?", text(), id);
                    default -> run(c, "UPDATE " + sa + " SET rev = rev + 1 WHERE id = ?", id);
                }
            } else if (random.nextBoolean()) {
                run(c, "UPDATE " + sp + " SET v = ?, rev = rev + 1 WHERE id = ?", text(), id);
            } else {
                run(c, "UPDATE " + sp + " SET amount = ?::numeric, rev = rev + 1 WHERE id = ?", amount(), id);
            }
        }

        /**
         * Writes that the plan cannot have seen, to some of R's rows: an update (for a plain amount,
         * sometimes the same number at another scale), a delete, or a re-insert. Returns the rows.
         */
        Set<String> inject(Random random) throws SQLException {
            Set<String> rows = new TreeSet<>();
            try (Connection c = TestPostgres.connect(db.url)) {
                for (int key : touched) {
                    if (random.nextInt(3) != 0) continue;
                    String table = key > 0 ? sa : sp;
                    int id = Math.abs(key);
                    String row = row(c, table, id);
                    if (row == null) {
                        insert(c, table, id);
                    } else if (random.nextBoolean()) {
                        run(c, "DELETE FROM " + table + " WHERE id = ?", id);
                    } else if (table.equals(sp) && random.nextBoolean()) {
                        try (PreparedStatement ps = c.prepareStatement("UPDATE " + sp + " SET amount = round(amount, 7)"
                                + " WHERE id = ? AND amount IS NOT NULL AND scale(amount) < 7")) {
                            ps.setInt(1, id);
                            if (ps.executeUpdate() == 0) continue;
                        }
                    } else {
                        run(c, "UPDATE " + table + " SET rev = rev + 100 WHERE id = ?", id);
                    }
                    rows.add(table + ":" + id);
                }
            }
            return rows;
        }

        /** Every row of both tables, as {@code table:id} to its text. */
        Map<String, String> state() {
            Map<String, String> out = new TreeMap<>();
            for (String table : List.of(sa, sp)) {
                for (String line : column("SELECT id || '=' || t::text FROM " + table + " t")) {
                    int eq = line.indexOf('=');
                    out.put(table + ":" + line.substring(0, eq), line.substring(eq + 1));
                }
            }
            return out;
        }

        List<String> column(String sql) {
            return db.rows(sql);
        }

        private static String row(Connection c, String table, int id) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement("SELECT t::text FROM " + table + " t WHERE id = ?")) {
                ps.setInt(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? rs.getString(1) : null;
                }
            }
        }

        private static void run(Connection c, String sql, Object... params) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                for (int i = 0; i < params.length; i++) ps.setObject(i + 1, params[i]);
                assertThat(ps.executeUpdate()).as("rows changed by %s", sql).isEqualTo(1);
            }
        }

        /** A text; never the placeholder itself in a try where R writes only plain values. */
        private String text() {
            String text = TEXTS[random.nextInt(TEXTS.length)];
            return plainOnly && text.equals("****") ? "*" : text;
        }

        private String amount() {
            return random.nextInt(5) == 0 ? null : AMOUNTS[random.nextInt(AMOUNTS.length)];
        }
    }
}
