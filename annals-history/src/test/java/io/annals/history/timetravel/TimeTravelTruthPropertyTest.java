package io.annals.history.timetravel;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.Position;
import io.annals.history.Change;
import io.annals.history.ColumnChange;
import io.annals.history.HistoryTestSupport;
import io.annals.history.LiveDatabase;
import io.annals.history.Truth;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.statistics.Statistics;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Time travel checked against the truth. Three writers run random transactions on four tables
 * while a photographer copies the tables aside at random moments, each copy tagged by a captured
 * marker row; afterwards every as-of read, diff and materialisation at a marker's position must
 * equal the copies, row for row.
 *
 * <p>Why a copy is exactly the state at its marker's position: the photographer's transaction
 * first takes {@code LOCK TABLE ... IN EXCLUSIVE MODE} on every workload table. That mode conflicts
 * with the ROW EXCLUSIVE lock every INSERT, UPDATE and DELETE holds until its transaction ends
 * (and with TRUNCATE's ACCESS EXCLUSIVE), so once it is granted no transaction that wrote those
 * tables is still open, and none can write them until the photographer commits. Every write it
 * copies (each {@code CREATE TABLE AS} sees everything committed before it) therefore committed
 * before the photographer, and every write it misses commits after it. Changes are positioned by
 * their commit LSN, so the copies hold exactly the changes before the marker's position.
 */
class TimeTravelTruthPropertyTest {

    private static final List<String> TABLES = List.of("accounts", "docs", "codes", "lines");

    /** Each table's primary key as jsonb, over row alias r: the order as-of tables come in. */
    private static final Map<String, String> KEYS = Map.of(
            "accounts", "jsonb_build_object('id', r.id)",
            "docs", "jsonb_build_object('id', r.id)",
            "codes", "jsonb_build_object('code', r.code)",
            "lines", "jsonb_build_object('acct', r.acct, 'line', r.line)");

    private static final String[] SCHEMA = {
            "CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL, balance numeric(12,3),"
                    + " opened timestamptz, tags text[], note text)",
            "CREATE TABLE docs (id uuid PRIMARY KEY, body jsonb, payload bytea, version int NOT NULL DEFAULT 0)",
            "CREATE TABLE codes (code text PRIMARY KEY, label text, amount numeric(8,2))",
            // Whole before images for one table, key-only ones (the default) for the others.
            "ALTER TABLE codes REPLICA IDENTITY FULL",
            "CREATE TABLE lines (acct bigint, line int, qty numeric(10,4) NOT NULL, at timestamptz, flags text[],"
                    + " PRIMARY KEY (acct, line))",
            "CREATE TABLE markers (id int PRIMARY KEY, taken_at timestamptz NOT NULL DEFAULT clock_timestamp())",
            "CREATE SCHEMA photos",
            // Rows that exist before capture starts: their history begins with the snapshot.
            "INSERT INTO accounts VALUES (1, 'seed ''one''', 1.500, '2026-01-01 00:00+02', '{a,\"b c\"}', NULL),"
                    + " (2, 'zwei ü', NULL, NULL, NULL, 'n')",
            "INSERT INTO docs VALUES ('" + doc(0) + "', '{\"seed\": [1, 2.50]}', '\\x00ff', 1)",
            "INSERT INTO codes VALUES ('it''s', 'S', 3.10)",
            "INSERT INTO lines VALUES (1, 1, 0.5, NULL, '{}')"};

    private static final String[] TEXTS = {"plain", "it's", "say \"hi\"", "naïve café", "日本語テキスト", "emoji 🎉",
            "back\\slash", "", "tab\tnew\nline", "semi; -- not a comment"};
    private static final String[] CODES = {"it's", "a", "\"q\"", "ü-7", "with space", "日本", "z", "a.b"};
    private static final String[] JSONS = {"{\"a\": 1}", "{\"nested\": {\"x\": [1, 2.50, \"s\"]}, \"k\": true}", "[]",
            "\"str with 'quote'\"", "{\"unicode\": \"ü日本\", \"n\": -0.001}", "{\"big\": 12345678901234567890}",
            "[1, null, {\"z\": false}]"};
    private static final String[] ELEMENTS = {"a", "b c", "it's", null, "ü", "{brace}"};
    private static final int ACCOUNT_KEYS = 12;
    private static final int DOC_KEYS = 8;
    private static final int MAX_PHOTOS = 6;

    @Property(tries = 4, shrinking = ShrinkingMode.OFF)
    void asOfDiffAndMaterializeEqualTheTablesCopiedAsideAtEachMarker(
            @ForAll long seed, @ForAll @IntRange(min = 15, max = 35) int transactionsPerWriter) throws Exception {
        try (LiveDatabase db = LiveDatabase.create("truth", SCHEMA); Truth truth = new Truth(db.url)) {
            int photos = runWorkload(db, seed, transactionsPerWriter);
            db.sync();
            List<Marker> markers = new ArrayList<>();
            for (int n = 0; n < photos; n++) {
                List<Change> marker = db.trail.history("markers", Map.of("id", n)).list();
                assertThat(marker).as("marker %d", n).hasSize(1);
                markers.add(new Marker(n, marker.get(0).position(), marker.get(0).committedAt()));
            }
            assertThat(markers.size()).as("a photo before, during and after the workload").isGreaterThanOrEqualTo(3);
            Statistics.label("photos").collect(markers.size());
            Statistics.label("key changes logged").collect(truth.number("SELECT count(*) FROM annals.changes"
                    + " WHERE operation = 'UPDATE' AND NOT before @> primary_key") > 0);
            Statistics.label("truncates logged").collect(truth.number("SELECT count(*) FROM annals.changes"
                    + " WHERE operation = 'TRUNCATE'") > 0);
            Random sampler = new Random(seed);
            for (Marker m : markers) {
                checkTablesAndRows(db, truth, m, sampler);
                checkMaterialization(db, truth, m);
            }
            for (int i = 0; i + 1 < markers.size(); i++) checkDiff(db, truth, markers.get(i), markers.get(i + 1));
            checkDiff(db, truth, markers.get(0), markers.get(markers.size() - 1));
            checkDiff(db, truth, markers.get(1), markers.get(1));
        }
    }

    record Marker(int n, Position position, Instant committedAt) {
        String photo(String table) {
            return "photos." + table + "_" + n;
        }
    }

    // ---------------------------------------------------------------- checks

    private static void checkTablesAndRows(LiveDatabase db, Truth truth, Marker m, Random sampler) {
        AsOf atPosition = db.trail.asOf(m.position());
        AsOf atInstant = db.trail.asOf(m.committedAt());
        for (String t : TABLES) {
            List<String> copy = truth.rows(m.photo(t), KEYS.get(t));
            assertThat(table(truth, atPosition, t)).as("%s as of marker %d (%s)", t, m.n(), m.position()).isEqualTo(copy);
            assertThat(table(truth, atInstant, t)).as("%s as of marker %d's commit time %s", t, m.n(), m.committedAt())
                    .isEqualTo(copy);
            for (Map<String, Object> key : sampleKeys(t, sampler)) {
                Optional<JsonNode> row = atPosition.row(t, key);
                String keyJson = HistoryTestSupport.JSON.valueToTree(key).toString();
                List<String> want = truth.column("SELECT to_jsonb(r)::text FROM " + m.photo(t) + " r WHERE "
                        + KEYS.get(t) + " = ?::jsonb", keyJson);
                assertThat(row.map(r -> truth.rendered(List.of(r)).get(0)))
                        .as("%s %s as of marker %d", t, keyJson, m.n()).isEqualTo(want.stream().findFirst());
            }
        }
    }

    private static List<String> table(Truth truth, AsOf asOf, String table) {
        try (Stream<JsonNode> rows = asOf.fetchSize(7).table(table)) {
            return truth.rendered(rows.toList());
        }
    }

    private static void checkDiff(LiveDatabase db, Truth truth, Marker from, Marker to) {
        for (String t : TABLES) {
            String key = KEYS.get(t);
            List<String> expected = truth.column("SELECT CASE WHEN a.k IS NULL THEN 'ADDED' WHEN b.k IS NULL"
                    + " THEN 'REMOVED' ELSE 'CHANGED' END || ' ' || coalesce(a.k, b.k)::text || ' ' ||"
                    + " (SELECT string_agg(c, ',' ORDER BY c) FROM jsonb_object_keys(coalesce(a.j, '{}') || coalesce(b.j, '{}')) c"
                    + "  WHERE a.j -> c IS DISTINCT FROM b.j -> c)"
                    + " FROM (SELECT " + key + " k, to_jsonb(r) j FROM " + from.photo(t) + " r) a"
                    + " FULL JOIN (SELECT " + key + " k, to_jsonb(r) j FROM " + to.photo(t) + " r) b ON a.k = b.k"
                    + " WHERE a.j IS DISTINCT FROM b.j ORDER BY coalesce(a.k, b.k)");
            List<RowDiff> diff;
            try (Stream<RowDiff> d = db.trail.diff(t, from.position(), to.position())) {
                diff = d.toList();
            }
            List<String> keys = truth.rendered(diff.stream().map(RowDiff::primaryKey).toList());
            List<String> got = new ArrayList<>();
            for (int i = 0; i < diff.size(); i++) {
                RowDiff d = diff.get(i);
                got.add(d.kind() + " " + keys.get(i) + " "
                        + String.join(",", d.columns().stream().map(ColumnChange::column).sorted().toList()));
                // the images the diff carries are the rows at each cut
                assertThat(d.before() == null).isEqualTo(d.kind() == RowDiff.Kind.ADDED);
                assertThat(d.after() == null).isEqualTo(d.kind() == RowDiff.Kind.REMOVED);
            }
            assertThat(got).as("diff of %s from marker %d to %d", t, from.n(), to.n()).isEqualTo(expected);
        }
    }

    private static void checkMaterialization(LiveDatabase db, Truth truth, Marker m) {
        String schema = "as_of_" + m.n();
        Materialization.Result result = db.trail.asOf(m.position()).materialize(TABLES.toArray(String[]::new))
                .into(schema);
        assertThat(result.position()).isEqualTo(m.position());
        assertThat(result.copies()).hasSize(TABLES.size());
        for (String t : TABLES) {
            String copy = schema + "." + t;
            long different = truth.number("SELECT count(*) FROM ((TABLE " + copy + " EXCEPT ALL TABLE "
                    + m.photo(t) + ") UNION ALL (TABLE " + m.photo(t) + " EXCEPT ALL TABLE " + copy + ")) x");
            assertThat(different).as("rows of %s that differ from %s", copy, m.photo(t)).isZero();
            long rows = truth.number("SELECT count(*) FROM " + m.photo(t));
            assertThat(result.copies()).filteredOn(c -> c.source().equals("public." + t)).singleElement()
                    .satisfies(c -> assertThat(c.rows()).isEqualTo(rows));
        }
    }

    /** A few keys of each table's key space: present or absent at the cut, as it happens. */
    private static List<Map<String, Object>> sampleKeys(String table, Random r) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            out.add(switch (table) {
                case "accounts" -> Map.of("id", (long) 1 + r.nextInt(ACCOUNT_KEYS));
                case "docs" -> Map.of("id", doc(r.nextInt(DOC_KEYS)).toString());
                case "codes" -> Map.of("code", CODES[r.nextInt(CODES.length)]);
                default -> {
                    Map<String, Object> k = new LinkedHashMap<>();
                    k.put("line", 1 + r.nextInt(4));
                    k.put("acct", (long) 1 + r.nextInt(3));
                    yield k;
                }
            });
        }
        return out;
    }

    // ---------------------------------------------------------------- the workload

    /** Runs three writers and the photographer; returns how many photos were taken. */
    private static int runWorkload(LiveDatabase db, long seed, int transactionsPerWriter) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            takePhoto(db, 0);
            List<Future<?>> writers = new ArrayList<>();
            for (int w = 0; w < 3; w++) {
                long writerSeed = seed * 31 + w;
                writers.add(pool.submit(() -> {
                    write(db, new Random(writerSeed), transactionsPerWriter);
                    return null;
                }));
            }
            Random pace = new Random(seed ^ 0x5DEECE66DL);
            int photos = 1;
            while (photos < MAX_PHOTOS - 1 && writers.stream().anyMatch(f -> !f.isDone())) {
                Thread.sleep(5 + pace.nextInt(40));
                takePhoto(db, photos++);
            }
            for (Future<?> f : writers) f.get(120, TimeUnit.SECONDS);
            takePhoto(db, photos++);
            return photos;
        } finally {
            pool.shutdownNow();
        }
    }

    private static void takePhoto(LiveDatabase db, int n) throws SQLException {
        for (int attempt = 0; ; attempt++) {
            try (Connection c = connect(db)) {
                c.setAutoCommit(false);
                try (Statement s = c.createStatement()) {
                    s.execute("LOCK TABLE " + String.join(", ", TABLES) + " IN EXCLUSIVE MODE");
                    for (String t : TABLES) s.execute("CREATE TABLE photos." + t + "_" + n + " AS TABLE " + t);
                    s.execute("INSERT INTO markers (id) VALUES (" + n + ")");
                    c.commit();
                    return;
                } catch (SQLException e) {
                    c.rollback();
                    if (attempt == 20 || !retriable(e)) throw e;
                }
            }
        }
    }

    private static void write(LiveDatabase db, Random r, int transactions) throws SQLException {
        try (Connection c = connect(db)) {
            c.setAutoCommit(false);
            for (int tx = 0; tx < transactions; tx++) {
                try {
                    int statements = 1 + r.nextInt(4);
                    for (int i = 0; i < statements; i++) {
                        Stmt s = statement(r);
                        try (PreparedStatement ps = c.prepareStatement(s.sql())) {
                            Truth.bind(c, ps, s.params());
                            ps.execute();
                        }
                    }
                    if (r.nextInt(8) == 0) c.rollback();
                    else c.commit();
                } catch (SQLException e) {
                    // Concurrent writers collide (deadlocks, a key taken meanwhile): that transaction rolls back.
                    c.rollback();
                    if (!retriable(e)) throw e;
                }
            }
        }
    }

    private static boolean retriable(SQLException e) {
        return List.of("40P01", "40001", "23505").contains(e.getSQLState());
    }

    private static Connection connect(LiveDatabase db) throws SQLException {
        Connection c = Truth.connect(db.url);
        try (Statement s = c.createStatement()) {
            s.execute("SET deadlock_timeout = '50ms'");
        }
        return c;
    }

    record Stmt(String sql, Object... params) {
    }

    private static Stmt statement(Random r) {
        if (r.nextInt(80) == 0) return new Stmt("TRUNCATE " + TABLES.get(r.nextInt(TABLES.size())));
        int op = r.nextInt(100);
        return switch (r.nextInt(4)) {
            case 0 -> {
                long id = 1 + r.nextInt(ACCOUNT_KEYS);
                if (op < 35) yield new Stmt("INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO "
                        + (r.nextBoolean() ? "NOTHING" : "UPDATE SET name = EXCLUDED.name, balance = EXCLUDED.balance"),
                        id, text(r), decimal(r, 9, 3), time(r), array(r), r.nextBoolean() ? null : text(r));
                if (op < 55) yield new Stmt("UPDATE accounts SET balance = ?, note = ? WHERE id = ?",
                        decimal(r, 9, 3), r.nextBoolean() ? null : text(r), id);
                if (op < 65) yield new Stmt("UPDATE accounts SET tags = ?, opened = ? WHERE id = ?", array(r), time(r), id);
                if (op < 75) yield new Stmt("UPDATE accounts SET id = ? WHERE id = ?", 1L + r.nextInt(ACCOUNT_KEYS), id);
                if (op < 80) yield new Stmt("UPDATE accounts SET name = name || '!' WHERE id % 3 = ?", r.nextInt(3));
                yield new Stmt("DELETE FROM accounts WHERE id = ?", id);
            }
            case 1 -> {
                UUID id = doc(r.nextInt(DOC_KEYS));
                if (op < 35) yield new Stmt("INSERT INTO docs VALUES (?, ?::jsonb, ?, ?) ON CONFLICT DO NOTHING",
                        id, json(r), bytes(r), r.nextInt(1000));
                if (op < 55) yield new Stmt("UPDATE docs SET body = ?::jsonb, version = version + 1 WHERE id = ?", json(r), id);
                if (op < 65) yield new Stmt("UPDATE docs SET payload = ? WHERE id = ?", bytes(r), id);
                if (op < 75) yield new Stmt("UPDATE docs SET id = ? WHERE id = ?", doc(r.nextInt(DOC_KEYS)), id);
                yield new Stmt("DELETE FROM docs WHERE id = ?", id);
            }
            case 2 -> {
                String code = CODES[r.nextInt(CODES.length)];
                if (op < 35) yield new Stmt("INSERT INTO codes VALUES (?, ?, ?) ON CONFLICT (code) DO UPDATE SET"
                        + " label = EXCLUDED.label", code, r.nextBoolean() ? null : text(r), decimal(r, 6, 2));
                if (op < 60) yield new Stmt("UPDATE codes SET amount = ?, label = ? WHERE code = ?",
                        r.nextBoolean() ? null : decimal(r, 6, 2), text(r), code);
                if (op < 75) yield new Stmt("UPDATE codes SET code = ? WHERE code = ?", CODES[r.nextInt(CODES.length)], code);
                yield new Stmt("DELETE FROM codes WHERE code = ?", code);
            }
            default -> {
                long acct = 1 + r.nextInt(3);
                int line = 1 + r.nextInt(4);
                if (op < 35) yield new Stmt("INSERT INTO lines VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        acct, line, decimal(r, 6, 4), time(r), array(r));
                if (op < 55) yield new Stmt("UPDATE lines SET qty = ?, at = ? WHERE acct = ? AND line = ?",
                        decimal(r, 6, 2), time(r), acct, line);
                if (op < 62) yield new Stmt("UPDATE lines SET line = ? WHERE acct = ? AND line = ?", 1 + r.nextInt(4), acct, line);
                if (op < 68) yield new Stmt("UPDATE lines SET acct = ? WHERE acct = ? AND line = ?",
                        1L + r.nextInt(3), acct, line);
                if (op < 75) yield new Stmt("UPDATE lines SET qty = qty + 1.5, flags = NULL WHERE acct = ?", acct);
                yield new Stmt("DELETE FROM lines WHERE acct = ? AND line = ?", acct, line);
            }
        };
    }

    static UUID doc(int n) {
        return UUID.nameUUIDFromBytes(("doc-" + n).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    private static String text(Random r) {
        return TEXTS[r.nextInt(TEXTS.length)];
    }

    /** A decimal with up to {@code digits} integer digits and {@code scale} fraction digits, sometimes fewer. */
    private static BigDecimal decimal(Random r, int digits, int scale) {
        long bound = (long) Math.pow(10, digits + scale);
        int s = r.nextInt(4) == 0 ? 0 : scale;
        return BigDecimal.valueOf(r.nextLong(-bound + 1, bound), scale).setScale(s, java.math.RoundingMode.DOWN);
    }

    private static OffsetDateTime time(Random r) {
        if (r.nextInt(5) == 0) return null;
        Instant at = Instant.ofEpochSecond(1_700_000_000L + r.nextInt(100_000_000), r.nextInt(1_000_000) * 1000L);
        return OffsetDateTime.ofInstant(at, ZoneOffset.ofHours(r.nextInt(-12, 14)));
    }

    private static String[] array(Random r) {
        if (r.nextInt(5) == 0) return null;
        String[] out = new String[r.nextInt(4)];
        for (int i = 0; i < out.length; i++) out[i] = ELEMENTS[r.nextInt(ELEMENTS.length)];
        return out;
    }

    private static Truth.Json json(Random r) {
        return new Truth.Json(r.nextInt(6) == 0 ? null : JSONS[r.nextInt(JSONS.length)]);
    }

    private static byte[] bytes(Random r) {
        if (r.nextInt(5) == 0) return null;
        byte[] out = new byte[r.nextInt(7)];
        r.nextBytes(out);
        return out;
    }
}
