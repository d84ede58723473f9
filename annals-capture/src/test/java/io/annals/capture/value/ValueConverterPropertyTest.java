package io.annals.capture.value;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.sql.Array;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Random values that stress the array and record text formats (quotes, backslashes, commas,
 * braces, parentheses, whitespace, NULL-looking strings, control characters, non-ASCII), stored
 * in the real database and checked against {@code to_jsonb}.
 */
class ValueConverterPropertyTest {

    private static JsonOracle db;
    private static final AtomicInteger ids = new AtomicInteger();

    @BeforeContainer
    static void createDatabase() {
        db = JsonOracle.create("value_props");
        db.execute("CREATE TYPE pair AS (k text, v text[], n int, f float8)",
                "CREATE TYPE outer_pair AS (p pair, ps pair[], label text)",
                """
                CREATE TABLE prop (id int PRIMARY KEY, t text, ta text[], ta2 text[], ia2 int[], na numeric[],
                                   c pair, ca pair[], o outer_pair, j jsonb)""");
    }

    @AfterContainer
    static void close() throws SQLException {
        db.close();
    }

    /** Strings that are hard for the array and record text formats. */
    @Provide
    Arbitrary<String> pgText() {
        Arbitrary<String> special = Arbitraries.of("", " ", "NULL", "null", "Null", " NULL", "NULL ", "\"", "\\", "\\\\",
                "\"\"", "{", "}", "{}", "(", ")", "()", ",", ";", "a,b", "{a,b}", "(1,2)", "[0:1]={1,2}", "'", "\t",
                "\n", "\r\n", "\\N", "\"NULL\"", "x\"y\\z", "😀", "日本", "\u2028", "\u0001", "\u007f", "true", "1e5");
        Arbitrary<String> tricky = Arbitraries.strings()
                .withChars("\"\\,{}()[]:=; \t\nNULnul'xyz0123456789")
                .withChars('é', 'ß', '€', '\u0001', '\u001f', '\u00a0', '日')
                .ofMaxLength(12);
        Arbitrary<String> unicode = Arbitraries.strings()
                .withCharRange('\u0001', '\ud7ff')
                .ofMaxLength(8);
        Arbitrary<String> emoji = Arbitraries.of("😀", "𝄞", "👩‍👩‍👧").list().ofMaxSize(3).map(l -> String.join("", l));
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(3, special),
                net.jqwik.api.Tuple.of(6, tricky),
                net.jqwik.api.Tuple.of(2, unicode),
                net.jqwik.api.Tuple.of(1, emoji));
    }

    @Provide
    Arbitrary<List<String>> textList() {
        return pgText().injectNull(0.15).list().ofMaxSize(8);
    }

    /** A rectangular matrix (rows x columns) of nullable ints. */
    @Provide
    Arbitrary<List<List<Integer>>> intMatrix() {
        return Combinators.combine(Arbitraries.integers().between(1, 4), Arbitraries.integers().between(1, 4))
                .flatAs((rows, cols) -> Arbitraries.integers().between(Integer.MIN_VALUE, Integer.MAX_VALUE)
                        .edgeCases(e -> e.includeOnly(0, -1, Integer.MIN_VALUE, Integer.MAX_VALUE))
                        .injectNull(0.2).list().ofSize(cols).list().ofSize(rows));
    }

    @Property(tries = 300)
    void textScalarsAndArrays(@ForAll("pgText") String text, @ForAll("textList") List<String> list,
                              @ForAll("textList") List<String> matrixSource,
                              @ForAll("intMatrix") List<List<Integer>> ints) throws SQLException {
        int id = ids.incrementAndGet();
        int columns = Math.max(1, Math.min(3, matrixSource.size()));
        List<List<String>> matrix = new ArrayList<>();
        for (int r = 0; r + columns <= matrixSource.size(); r += columns) {
            matrix.add(matrixSource.subList(r, r + columns));
        }
        int lower = Math.floorMod(id, 7) - 3;
        try (PreparedStatement ps = db.conn.prepareStatement(
                "INSERT INTO prop (id, t, ta, ta2, ia2) VALUES (?, ?, ?, ?::text[], ?::int[])")) {
            ps.setInt(1, id);
            ps.setString(2, text);
            Array a = db.conn.createArrayOf("text", list.toArray());
            ps.setArray(3, a);
            ps.setString(4, textMatrixLiteral(matrix, lower));
            ps.setString(5, intMatrixLiteral(ints, lower));
            ps.executeUpdate();
        }
        db.assertRowsMatch("prop", "oracle_row.id = " + id);
    }

    @Property(tries = 300)
    void composites(@ForAll("pgText") String k, @ForAll("textList") List<String> v, @ForAll("pgText") String k2,
                    @ForAll("textList") List<String> v2, @ForAll("pgText") String label,
                    @ForAll("floats") Double f, @ForAll boolean nullComposite) throws SQLException {
        int id = ids.incrementAndGet();
        try (PreparedStatement ps = db.conn.prepareStatement("""
                INSERT INTO prop (id, c, ca, o) VALUES (?,
                  ROW(?, ?, ?, ?)::pair,
                  ARRAY[ROW(?, ?, NULL, ?)::pair, NULL, ROW(?, NULL, 1, NULL)::pair],
                  ROW(CASE WHEN ? THEN NULL ELSE ROW(?, ?, ?, ?)::pair END,
                      ARRAY[ROW(?, ?, -1, ?)::pair], ?)::outer_pair)""")) {
            int i = 1;
            ps.setInt(i++, id);
            i = setPair(ps, i, k, v, id, f);
            ps.setString(i++, k2);
            ps.setArray(i++, db.conn.createArrayOf("text", v2.toArray()));
            setDouble(ps, i++, f);
            ps.setString(i++, label);
            ps.setBoolean(i++, nullComposite);
            i = setPair(ps, i, k2, v, -id, f);
            ps.setString(i++, label);
            ps.setArray(i++, db.conn.createArrayOf("text", v2.toArray()));
            setDouble(ps, i++, f);
            ps.setString(i, k);
            ps.executeUpdate();
        }
        db.assertRowsMatch("prop", "oracle_row.id = " + id);
    }

    @Provide
    Arbitrary<Double> floats() {
        return Arbitraries.oneOf(
                Arbitraries.of(Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, -0.0, 0.0, Double.MIN_VALUE,
                        Double.MAX_VALUE, 1e-300, 1e300),
                Arbitraries.doubles().between(-1e20, 1e20).ofScale(5)).injectNull(0.1);
    }

    @Property(tries = 150)
    void numericArraysAndJson(@ForAll("numerics") List<String> numbers, @ForAll("pgText") String key,
                              @ForAll("pgText") String value) throws SQLException {
        int id = ids.incrementAndGet();
        try (PreparedStatement ps = db.conn.prepareStatement(
                "INSERT INTO prop (id, na, j) VALUES (?, ?::numeric[], jsonb_build_object(?::text, ?::text, 'n', ?::numeric[]))")) {
            ps.setInt(1, id);
            Array a = db.conn.createArrayOf("text", numbers.toArray());
            ps.setArray(2, a);
            ps.setString(3, key);
            ps.setString(4, value);
            ps.setArray(5, a);
            ps.executeUpdate();
        }
        db.assertRowsMatch("prop", "oracle_row.id = " + id);
    }

    @Provide
    Arbitrary<List<String>> numerics() {
        Arbitrary<String> decimal = Combinators.combine(
                        Arbitraries.bigIntegers().between(java.math.BigInteger.TEN.pow(40).negate(), java.math.BigInteger.TEN.pow(40)),
                        Arbitraries.integers().between(-50, 50))
                .as((unscaled, scale) -> new java.math.BigDecimal(unscaled, scale).toString());
        return Arbitraries.oneOf(decimal, Arbitraries.of("NaN", "Infinity", "-Infinity", "0", "-0", "1e-100"))
                .injectNull(0.1).list().ofMaxSize(6);
    }

    private static int setPair(PreparedStatement ps, int i, String k, List<String> v, int n, Double f) throws SQLException {
        ps.setString(i++, k);
        ps.setArray(i++, db.conn.createArrayOf("text", v.toArray()));
        ps.setInt(i++, n);
        setDouble(ps, i++, f);
        return i;
    }

    private static void setDouble(PreparedStatement ps, int i, Double f) throws SQLException {
        if (f == null) {
            ps.setNull(i, java.sql.Types.DOUBLE);
        } else {
            ps.setDouble(i, f);
        }
    }

    /** A 2-D text[] literal with lower bounds {@code lower}, every element quoted (or NULL). */
    private static String textMatrixLiteral(List<List<String>> rows, int lower) {
        if (rows.isEmpty()) return "{}";
        StringBuilder sb = new StringBuilder();
        sb.append('[').append(lower).append(':').append(lower + rows.size() - 1).append("][1:")
                .append(rows.get(0).size()).append("]={");
        for (int r = 0; r < rows.size(); r++) {
            if (r > 0) sb.append(',');
            sb.append('{');
            List<String> row = rows.get(r);
            for (int c = 0; c < row.size(); c++) {
                if (c > 0) sb.append(',');
                String e = row.get(c);
                if (e == null) {
                    sb.append("NULL");
                } else {
                    sb.append('"');
                    for (int i = 0; i < e.length(); i++) {
                        char ch = e.charAt(i);
                        if (ch == '"' || ch == '\\') sb.append('\\');
                        sb.append(ch);
                    }
                    sb.append('"');
                }
            }
            sb.append('}');
        }
        return sb.append('}').toString();
    }

    private static String intMatrixLiteral(List<List<Integer>> rows, int lower) {
        StringBuilder sb = new StringBuilder();
        if (lower != 1) {
            sb.append('[').append(lower).append(':').append(lower + rows.size() - 1).append("][")
                    .append(lower).append(':').append(lower + rows.get(0).size() - 1).append("]=");
        }
        sb.append('{');
        for (int r = 0; r < rows.size(); r++) {
            if (r > 0) sb.append(',');
            sb.append('{');
            for (int c = 0; c < rows.get(r).size(); c++) {
                if (c > 0) sb.append(',');
                Integer v = rows.get(r).get(c);
                sb.append(v == null ? "NULL" : v.toString());
            }
            sb.append('}');
        }
        return sb.append('}').toString();
    }
}
