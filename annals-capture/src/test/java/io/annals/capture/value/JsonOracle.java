package io.annals.capture.value;

import io.annals.testkit.TestPostgres;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A fresh database used as the oracle for {@link ValueConverter}. Both of its checks compare text.
 *
 * <p>The image: the JSON built from a row's column texts, read by the server as jsonb, must render
 * as the same text as the database's own {@code to_jsonb(row)}. Not jsonb equality, under which
 * {@code 2.5} equals {@code 2.50}, so that a converter losing numeric scale would pass. jsonb's text
 * keeps the scale and has a canonical key order, so equal texts mean the stored image is exactly
 * {@code to_jsonb}'s.
 *
 * <p>The spelling: the converter's own text must be {@code row_to_json(row)::text}, byte for byte,
 * so that key (column) order and each number as written count too. That is stricter than the
 * stored image needs, and row_to_json's text is not to_jsonb's: it keeps nested {@code json} as
 * written, duplicate keys and all, where to_jsonb makes it jsonb. But the converter keeps nested
 * json as written too and otherwise follows the same rules, and {@code row_to_json(row)::jsonb} is
 * {@code to_jsonb(row)}, both classifying types alike; so a difference in spelling only is a
 * change in the converter worth seeing, even where the stored image would not change.
 *
 * <p>Column texts come either from the real pgoutput plugin (a temporary logical slot decoded with
 * {@code pg_logical_slot_get_binary_changes}, exactly what the capture worker receives) or from
 * {@code format('%s', col)}, which applies the type's output function like pgoutput does. (A plain
 * {@code col::text} is not the same: bool casts to {@code true}, bpchar drops its padding, inet
 * gains a {@code /32}.) The oracle session uses the capture session's settings.
 */
final class JsonOracle implements AutoCloseable {

    /** The settings the capture worker's replication session runs with. */
    static final String[] SESSION_SETTINGS = {
            "SET TimeZone = 'UTC'",
            "SET DateStyle = 'ISO'",
            "SET IntervalStyle = 'postgres'",
            "SET extra_float_digits = 3",
            "SET bytea_output = 'hex'",
            "SET client_encoding = 'UTF8'",
    };
    private static final String PUBLICATION = "annals_value_test";

    final String url;
    final Connection conn;
    final PgTypes types;
    final ValueConverter converter;
    private boolean publicationCreated;
    private int slots;

    private JsonOracle(String url) throws SQLException {
        this.url = url;
        this.conn = session(url);
        this.types = new PgTypes(() -> TestPostgres.connect(url));
        this.converter = new ValueConverter(types);
    }

    static JsonOracle create(String prefix) {
        try {
            return new JsonOracle(TestPostgres.newDatabase(prefix));
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A connection to {@code url} with the capture session's settings. */
    static Connection session(String url) throws SQLException {
        Connection c = TestPostgres.connect(url);
        try (Statement s = c.createStatement()) {
            for (String sql : SESSION_SETTINGS) s.execute(sql);
        }
        return c;
    }

    void execute(String... sql) {
        try (Statement s = conn.createStatement()) {
            for (String q : sql) s.execute(q);
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /** Column names and type OIDs of {@code table}, as a pgoutput Relation message would list them. */
    Columns columns(String table) throws SQLException {
        List<String> names = new ArrayList<>();
        List<Integer> oids = new ArrayList<>();
        try (PreparedStatement ps = conn.prepareStatement("SELECT attname, atttypid::int8 FROM pg_attribute"
                + " WHERE attrelid = ?::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum")) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    names.add(rs.getString(1));
                    oids.add((int) rs.getLong(2));
                }
            }
        }
        return new Columns(names.toArray(String[]::new), oids.stream().mapToInt(Integer::intValue).toArray());
    }

    record Columns(String[] names, int[] oids) {
    }

    /**
     * One row whose converted JSON fails either check: the converter's text against
     * {@code row_to_json(row)::text}, and that text as the server renders it once read as jsonb
     * against {@code to_jsonb(row)::text}.
     */
    record Mismatch(String row, String ours, String rowToJson, String oursAsJsonb, String theirs, String differingKeys,
                    List<String> texts) {
        @Override
        public String toString() {
            return "\n  row " + row + "\n    texts:          " + texts
                    + "\n    ours:           " + ours + "\n    row_to_json:    " + rowToJson
                    + "\n    ours as jsonb:  " + oursAsJsonb + "\n    to_jsonb:       " + theirs
                    + "\n    differing keys: " + differingKeys;
        }
    }

    /**
     * Converts every row of {@code table} from {@code format('%s', col)} texts and asserts that each
     * passes both checks (see the class comment). Returns the number of rows checked.
     */
    int assertTableMatches(String table) {
        return assertRowsMatch(table, "true");
    }

    /**
     * As {@link #assertTableMatches(String)}, for the rows that satisfy {@code where} (the table's alias
     * is {@code oracle_row}, so that no column name can shadow it).
     */
    int assertRowsMatch(String table, String where) {
        try {
            Columns cols = columns(table);
            StringBuilder sql = new StringBuilder("SELECT oracle_row.ctid::text");
            for (String n : cols.names()) {
                String q = quoteIdent(n);
                // Not "col IS NULL": that is also true for a composite whose attributes are all null.
                sql.append(", CASE WHEN num_nulls(oracle_row.").append(q).append(") = 1 THEN NULL ELSE format('%s', oracle_row.")
                        .append(q).append(") END");
            }
            sql.append(" FROM ").append(table).append(" oracle_row WHERE ").append(where);
            List<Mismatch> mismatches = new ArrayList<>();
            int rows = 0;
            try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery(sql.toString())) {
                while (rs.next()) {
                    String ctid = rs.getString(1);
                    String[] texts = new String[cols.names().length];
                    for (int i = 0; i < texts.length; i++) texts[i] = rs.getString(i + 2);
                    Mismatch m = compare(table, "oracle_row.ctid = '" + ctid + "'::tid", table + " ctid=" + ctid, cols, texts);
                    if (m != null) mismatches.add(m);
                    rows++;
                }
            }
            assertThat(mismatches).as("rows of %s whose JSON differs from row_to_json, or as jsonb text from to_jsonb", table)
                    .isEmpty();
            assertThat(rows).as("rows in %s where %s", table, where).isPositive();
            return rows;
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /**
     * Runs {@code inserts} (into tables with an integer column {@code id}) while a temporary pgoutput
     * slot records them, decodes the slot, converts each inserted tuple's texts with the type OIDs of
     * the Relation message, and asserts that each passes both checks against the stored row (see the
     * class comment). Returns the number of rows checked.
     */
    int assertDecodedInsertsMatch(String... inserts) {
        try {
            if (!publicationCreated) {
                execute("CREATE PUBLICATION " + PUBLICATION + " FOR ALL TABLES");
                publicationCreated = true;
            }
            String slot = "annals_value_" + ++slots + "_" + ProcessHandle.current().pid();
            execute("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput', true)");
            List<Decoded> decoded;
            try {
                execute(inserts);
                decoded = decode(slot);
            } finally {
                // A temporary slot is also dropped when a statement of its session fails.
                execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '"
                        + slot + "'");
            }
            List<Mismatch> mismatches = new ArrayList<>();
            for (Decoded d : decoded) {
                int id = -1;
                for (int i = 0; i < d.columns().names().length; i++) {
                    if (d.columns().names()[i].equals("id")) id = i;
                }
                assertThat(id).as("table %s needs an id column", d.table()).isNotNegative();
                Mismatch m = compare(d.table(), "oracle_row.id = " + d.texts()[id], d.table() + " id=" + d.texts()[id],
                        d.columns(), d.texts());
                if (m != null) mismatches.add(m);
            }
            assertThat(mismatches).as("decoded rows whose JSON differs from row_to_json, or as jsonb text from to_jsonb").isEmpty();
            assertThat(decoded).as("decoded inserts").isNotEmpty();
            return decoded.size();
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /** Both {@link #assertDecodedInsertsMatch} for {@code inserts} and {@link #assertTableMatches} for {@code table}. */
    void assertRoundTrip(String table, String... inserts) {
        int decoded = assertDecodedInsertsMatch(inserts);
        int selected = assertTableMatches(table);
        assertThat(decoded).as("decoded vs selected rows of %s", table).isEqualTo(selected);
    }

    /** Builds the row JSON from {@code texts}; null when it passes both checks against the row selected by {@code where}. */
    Mismatch compare(String table, String where, String rowLabel, Columns cols, String[] texts) throws SQLException {
        StringBuilder json = new StringBuilder();
        try {
            converter.appendRow(json, cols.names(), cols.oids(), texts);
        } catch (RuntimeException e) {
            return new Mismatch(rowLabel, "conversion failed: " + e, "?", "?", theirs(table, where), "?", Arrays.asList(texts));
        }
        return compareImage(table, where, rowLabel, json.toString(), Arrays.asList(texts));
    }

    /**
     * Null when {@code json} is {@code row_to_json} of the row selected by {@code where}, and, read as
     * jsonb, renders as the same text as {@code to_jsonb} of it.
     */
    Mismatch compareImage(String table, String where, String rowLabel, String json, List<String> texts) throws SQLException {
        String sql = "SELECT ?::jsonb::text, to_jsonb(oracle_row)::text, row_to_json(oracle_row)::text,"
                + " (SELECT string_agg(key, ', ') FROM jsonb_each(?::jsonb) a FULL JOIN jsonb_each(to_jsonb(oracle_row)) b USING (key)"
                + "   WHERE a.value::text IS DISTINCT FROM b.value::text)"
                + " FROM " + table + " oracle_row WHERE " + where;
        try (PreparedStatement ps = conn.prepareStatement(sql)) {
            ps.setString(1, json);
            ps.setString(2, json);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) return new Mismatch(rowLabel, json, "?", "?", "(row not found)", "?", texts);
                String oursAsJsonb = rs.getString(1);
                String theirs = rs.getString(2);
                String rowToJson = rs.getString(3);
                if (json.equals(rowToJson) && sameText(oursAsJsonb, theirs)) return null;
                return new Mismatch(rowLabel, json, rowToJson, oursAsJsonb, theirs, rs.getString(4), texts);
            }
        } catch (SQLException e) {
            return new Mismatch(rowLabel, json, "?", "(not valid jsonb: " + e.getMessage() + ")", theirs(table, where), "?",
                    texts);
        }
    }

    /** How images are judged equal: by the text the server renders for them as jsonb. */
    static boolean sameText(String oursAsJsonb, String theirsAsJsonb) {
        return oursAsJsonb != null && oursAsJsonb.equals(theirsAsJsonb);
    }

    /** {@code json} as the server renders it once read as jsonb. */
    String asJsonbText(String json) throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement("SELECT ?::jsonb::text")) {
            ps.setString(1, json);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    private String theirs(String table, String where) throws SQLException {
        try (Statement s = conn.createStatement();
             ResultSet rs = s.executeQuery("SELECT to_jsonb(oracle_row)::text FROM " + table + " oracle_row WHERE " + where)) {
            return rs.next() ? rs.getString(1) : "(row not found)";
        }
    }

    static String quoteIdent(String name) {
        return '"' + name.replace("\"", "\"\"") + '"';
    }

    // ---------------------------------------------------------------------------------------------
    // A minimal pgoutput (protocol version 1) reader: Relation and Insert messages are all we need.

    record Decoded(String table, Columns columns, String[] texts) {
    }

    private List<Decoded> decode(String slot) throws SQLException {
        Map<Integer, String> relationNames = new HashMap<>();
        Map<Integer, Columns> relationColumns = new HashMap<>();
        List<Decoded> out = new ArrayList<>();
        try (PreparedStatement ps = conn.prepareStatement("SELECT data FROM pg_logical_slot_get_binary_changes(?, NULL,"
                + " NULL, 'proto_version', '1', 'publication_names', '" + PUBLICATION + "')")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ByteBuffer b = ByteBuffer.wrap(rs.getBytes(1));
                    char kind = (char) b.get();
                    if (kind == 'R') {
                        int relid = b.getInt();
                        String ns = cstring(b);
                        String name = cstring(b);
                        b.get(); // replica identity
                        int n = b.getShort();
                        String[] names = new String[n];
                        int[] oids = new int[n];
                        for (int i = 0; i < n; i++) {
                            b.get(); // flags
                            names[i] = cstring(b);
                            oids[i] = b.getInt();
                            b.getInt(); // typmod
                        }
                        relationNames.put(relid, quoteIdent(ns) + "." + quoteIdent(name));
                        relationColumns.put(relid, new Columns(names, oids));
                    } else if (kind == 'I') {
                        int relid = b.getInt();
                        char n = (char) b.get();
                        assertThat(n).isEqualTo('N');
                        int count = b.getShort();
                        String[] texts = new String[count];
                        for (int i = 0; i < count; i++) {
                            char k = (char) b.get();
                            switch (k) {
                                case 'n' -> texts[i] = null;
                                case 't' -> {
                                    byte[] v = new byte[b.getInt()];
                                    b.get(v);
                                    texts[i] = new String(v, StandardCharsets.UTF_8);
                                }
                                default -> throw new IllegalStateException("unexpected tuple column kind " + k);
                            }
                        }
                        out.add(new Decoded(relationNames.get(relid), relationColumns.get(relid), texts));
                    }
                }
            }
        }
        return out;
    }

    private static String cstring(ByteBuffer b) {
        int start = b.position();
        while (b.get() != 0) {
            // scan to the terminating NUL
        }
        return new String(b.array(), start, b.position() - start - 1, StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws SQLException {
        conn.close();
    }
}
