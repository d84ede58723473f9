package io.annals.projections;

import io.annals.changelog.Sql;
import io.annals.projections.Projection.Columns;
import io.annals.projections.Projection.Source;
import io.annals.projections.VerifyReport.Difference;
import io.annals.projections.VerifyReport.Kind;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Verify and repair: recompute a projection's rows from the canonical sources' current state,
 * a chunk of keys at a time (memory bounded whatever the size), and compare them with what the
 * target holds, by canonical key. Both sides are compared as PostgreSQL's text of the target's
 * own column types (the expected rows pass through a temporary table of those types), so a
 * value compares equal however the mapping spelled it.
 */
final class Consistency {

    private static final int MAX_EXAMPLES = 100;

    private final Bound b;
    private final Connection source;
    private final Connection output;
    private final boolean repair;
    private final Output writer;
    private long checked;
    private long missing;
    private long extra;
    private long different;
    private final List<Difference> examples = new ArrayList<>();

    Consistency(Bound b, Connection source, Connection output, boolean repair) {
        this.b = b;
        this.source = source;
        this.output = output;
        this.repair = repair;
        this.writer = Output.of(b);
    }

    VerifyReport run() throws Exception {
        output.setAutoCommit(false);
        for (Source s : b.projection.sources()) {
            Derivation.allKeys(source, b, s, Runner.CHUNK, keys -> compare(s, keys));
            if (b.projection.target() instanceof Projection.ReadTable) orphans(s);
        }
        return new VerifyReport(b.name(), checked, missing, extra, different, examples, repair);
    }

    /** Recomputes {@code keys} and compares them with the target. */
    private void compare(Source s, List<CanonicalKey> keys) throws Exception {
        // Repair takes the projector's lock before it reads the sources: a batch the projector
        // committed in between could otherwise be overwritten with an older state, for good.
        if (repair) Runner.begin(output, b.name(), Runner.marker(b.name(), "repair"));
        Map<CanonicalKey, List<Map<String, Object>>> expected = derive(s, keys);
        checked += keys.size();
        Map<CanonicalKey, Kind> diffs = b.projection.target() instanceof Columns c ? compareColumns(c, expected)
                : compareRows(s, expected);
        if (repair && !diffs.isEmpty()) {
            Map<CanonicalKey, List<Map<String, Object>>> fix = new LinkedHashMap<>();
            for (CanonicalKey k : diffs.keySet()) fix.put(k, expected.getOrDefault(k, List.of()));
            writer.replace(output, fix);
        }
        output.commit();
    }

    /** The rows the sources give for {@code keys} now; a Java mapping that fails counts its key as having none. */
    private Map<CanonicalKey, List<Map<String, Object>>> derive(Source s, List<CanonicalKey> keys) throws SQLException {
        if (s.isSql()) return Derivation.query(source, b, s, keys);
        Map<CanonicalKey, List<Map<String, Object>>> out = new LinkedHashMap<>();
        Map<CanonicalKey, String> rows = Derivation.currentRows(source, b, s, keys);
        for (CanonicalKey k : keys) {
            String row = rows.get(k);
            if (row == null) {
                out.put(k, List.of());
                continue;
            }
            try {
                out.put(k, Derivation.map(b, s, k, row));
            } catch (Derivation.MappingFailure e) {
                throw new ProjectionException("Projection " + b.name() + ": its mapping fails on the current row of "
                        + s.table() + " " + k.json() + ", so it cannot be verified: " + e.getMessage(), e);
            }
        }
        return out;
    }

    private Map<CanonicalKey, Kind> compareRows(Source s, Map<CanonicalKey, List<Map<String, Object>>> expected)
            throws SQLException {
        Set<String> columns = new LinkedHashSet<>();
        if (s.isSql()) columns.addAll(b.queryColumns.get(s.table()));
        for (List<Map<String, Object>> rows : expected.values()) for (Map<String, Object> r : rows) columns.addAll(r.keySet());
        List<String> cols = new ArrayList<>(columns);
        try (Statement st = output.createStatement()) {
            st.execute("DROP TABLE IF EXISTS pg_temp.annals_expected");
            st.execute("CREATE TEMP TABLE annals_expected ON COMMIT DROP AS SELECT canonical_type, canonical_pk"
                    + (cols.isEmpty() ? "" : ", " + String.join(", ", cols.stream().map(Sql::identifier).toList()))
                    + " FROM " + b.target.ref().sql() + " WITH NO DATA");
        }
        new Output(b, new TableRef("pg_temp", "annals_expected")).insert(output, expected);
        String row = "row(" + String.join(", ", cols.stream().map(c -> "x." + Sql.identifier(c)).toList()) + ")::text";
        String keyType = b.jsonKey ? "jsonb" : "text";
        String sql = "SELECT k.t, k.pk::text, a.rows, e.rows FROM (SELECT unnest(?::text[]) t, unnest(?::" + keyType + "[]) pk) k"
                + " LEFT JOIN LATERAL (SELECT array_agg(" + row + " ORDER BY " + row + ") rows FROM " + b.target.ref().sql()
                + " x WHERE x.canonical_type = k.t AND x.canonical_pk = k.pk) a ON true"
                + " LEFT JOIN LATERAL (SELECT array_agg(" + row + " ORDER BY " + row + ") rows FROM pg_temp.annals_expected"
                + " x WHERE x.canonical_type = k.t AND x.canonical_pk = k.pk) e ON true"
                + " WHERE a.rows IS DISTINCT FROM e.rows";
        Map<CanonicalKey, Kind> diffs = new LinkedHashMap<>();
        List<CanonicalKey> keys = new ArrayList<>(expected.keySet());
        Map<String, CanonicalKey> byText = new HashMap<>();
        for (CanonicalKey k : keys) byText.put(k.type() + "\u0000" + (b.jsonKey ? CanonicalKey.normal(k.json()) : k.text()), k);
        try (PreparedStatement ps = output.prepareStatement(sql)) {
            ps.setArray(1, output.createArrayOf("text", keys.stream().map(CanonicalKey::type).toArray()));
            ps.setArray(2, output.createArrayOf("text", keys.stream().map(k -> b.jsonKey ? k.json() : k.text()).toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String pk = rs.getString(2);
                    CanonicalKey key = byText.get(rs.getString(1) + "\u0000" + (b.jsonKey ? CanonicalKey.normal(pk) : pk));
                    List<String> actual = list(rs.getArray(3));
                    List<String> exp = list(rs.getArray(4));
                    Kind kind = actual.isEmpty() ? Kind.MISSING : exp.isEmpty() ? Kind.EXTRA : Kind.DIFFERENT;
                    diffs.put(key, kind);
                    count(kind, key.type(), pk, exp, actual);
                }
            }
        }
        return diffs;
    }

    /**
     * Read rows of {@code s}'s type whose source row is gone. The keys are read through a cursor
     * WITH HOLD, a chunk at a time, so that memory stays bounded and a repair may commit between
     * chunks; each key comes back as the JSON object of the source's key (cast by its type).
     */
    private void orphans(Source s) throws Exception {
        TableInfo info = b.sources.get(s.table());
        String keyJson;
        if (b.jsonKey) {
            keyJson = "canonical_pk::text";
        } else if (info.primaryKey().size() == 1) {
            String k = info.primaryKey().get(0);
            keyJson = "jsonb_build_object(" + Sql.literal(k) + ", canonical_pk::" + info.column(k).type() + ")::text";
        } else {
            keyJson = "canonical_pk::jsonb::text";
        }
        output.commit();
        try (Statement st = output.createStatement()) {
            st.execute("DECLARE annals_orphans CURSOR WITH HOLD FOR SELECT DISTINCT " + keyJson + " FROM "
                    + b.target.ref().sql() + " WHERE canonical_type = " + Sql.literal(s.canonicalType()));
            output.commit();
            try {
                while (true) {
                    List<CanonicalKey> keys = new ArrayList<>();
                    try (ResultSet rs = st.executeQuery("FETCH " + Runner.CHUNK + " FROM annals_orphans")) {
                        while (rs.next()) keys.add(CanonicalKey.of(s.canonicalType(), rs.getString(1)));
                    }
                    if (keys.isEmpty()) break;
                    orphanChunk(s, keys);
                }
            } finally {
                st.execute("CLOSE annals_orphans");
                output.commit();
            }
        }
    }

    private void orphanChunk(Source s, List<CanonicalKey> keys) throws Exception {
        if (repair) Runner.begin(output, b.name(), Runner.marker(b.name(), "repair"));
        Set<CanonicalKey> present = Derivation.currentRows(source, b, s, keys).keySet();
        Map<CanonicalKey, List<Map<String, Object>>> fix = new LinkedHashMap<>();
        for (CanonicalKey k : keys) {
            if (present.contains(k)) continue;
            checked++;
            count(Kind.EXTRA, k.type(), b.jsonKey ? k.json() : k.text(), List.of(), List.of("(rows of a deleted source row)"));
            fix.put(k, List.of());
        }
        if (repair && !fix.isEmpty()) writer.replace(output, fix);
        output.commit();
    }

    /** Computed columns: the target's values against the recomputed ones, cast to the columns' types. */
    private Map<CanonicalKey, Kind> compareColumns(Columns c, Map<CanonicalKey, List<Map<String, Object>>> expected)
            throws SQLException {
        TableInfo info = b.target;
        List<CanonicalKey> keys = new ArrayList<>();
        for (Map.Entry<CanonicalKey, List<Map<String, Object>>> e : expected.entrySet()) if (!e.getValue().isEmpty()) keys.add(e.getKey());
        if (keys.isEmpty()) return Map.of();
        StringBuilder exp = new StringBuilder("row(");
        StringBuilder act = new StringBuilder("row(");
        for (int i = 0; i < c.columns().size(); i++) {
            String col = c.columns().get(i);
            if (i > 0) {
                exp.append(", ");
                act.append(", ");
            }
            exp.append("(v ->> ").append(Sql.literal(col)).append(")::").append(info.column(col).type());
            act.append("t.").append(Sql.identifier(col));
        }
        exp.append(")::text");
        act.append(")::text");
        StringBuilder match = new StringBuilder();
        for (String k : info.primaryKey()) {
            match.append(match.isEmpty() ? "" : " AND ").append("t.").append(Sql.identifier(k)).append(" = (k ->> ")
                    .append(Sql.literal(k)).append(")::").append(info.column(k).type());
        }
        String sql = "SELECT k::text, " + exp + ", " + act + " FROM unnest(?::jsonb[], ?::jsonb[]) AS x(k, v)"
                + " JOIN " + info.ref().sql() + " t ON " + match + " WHERE " + exp + " IS DISTINCT FROM " + act;
        Map<CanonicalKey, Kind> diffs = new LinkedHashMap<>();
        try (PreparedStatement ps = output.prepareStatement(sql)) {
            List<String> values = new ArrayList<>();
            for (CanonicalKey k : keys) {
                Map<String, Object> row = expected.get(k).get(0);
                Map<String, String> text = new LinkedHashMap<>();
                for (String col : c.columns()) text.put(col, TextValues.text(row.get(col), info.column(col)));
                values.add(io.annals.changelog.Json.mapper().writeValueAsString(text));
            }
            ps.setArray(1, output.createArrayOf("text", keys.stream().map(CanonicalKey::json).toArray()));
            ps.setArray(2, output.createArrayOf("text", values.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                Map<String, CanonicalKey> byJson = new HashMap<>();
                for (CanonicalKey k : keys) byJson.put(k.json(), k);
                while (rs.next()) {
                    CanonicalKey key = byJson.get(CanonicalKey.normal(rs.getString(1)));
                    diffs.put(key, Kind.DIFFERENT);
                    count(Kind.DIFFERENT, key.type(), key.json(), List.of(rs.getString(2)), List.of(rs.getString(3)));
                }
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        return diffs;
    }

    private void count(Kind kind, String type, String pk, List<String> expected, List<String> actual) {
        switch (kind) {
            case MISSING -> missing++;
            case EXTRA -> extra++;
            case DIFFERENT -> different++;
        }
        if (examples.size() < MAX_EXAMPLES) examples.add(new Difference(kind, type, pk, expected, actual));
    }

    private static List<String> list(Array a) throws SQLException {
        if (a == null) return List.of();
        return Arrays.asList((String[]) a.getArray());
    }
}
