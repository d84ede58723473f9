package io.annals.cli;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import io.annals.changelog.Json;
import io.annals.projections.FailurePolicy;
import io.annals.projections.Projection;
import io.annals.projections.ProjectionException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * SQL projections declared in a JSON file ({@code annals projections run --file projections.json}):
 * projections whose every source is a query, so that they need no code. Java projections come
 * from {@link io.annals.projections.ProjectionProvider}s on the class path instead.
 *
 * <pre>{@code
 * {"projections": [{
 *     "name": "invoice_total",
 *     "intoColumns": {"table": "public.invoice", "columns": ["total_amount"]},
 *     "sources": [{"table": "public.invoice", "query": [
 *         "SELECT i.id AS canonical_pk, coalesce(sum(it.amount), 0) AS total_amount",
 *         "FROM invoice i LEFT JOIN invoice_item it ON it.invoice_id = i.id",
 *         "WHERE i.id = ANY(:ids::bigint[]) GROUP BY i.id"]}],
 *     "dependencies": [{"table": "public.invoice_item", "keyColumn": "invoice_id"}]
 * }]}
 * }</pre>
 *
 * A projection has {@code name}; {@code into} (a read table) and optionally {@code shardColumn},
 * or {@code intoColumns} ({@code table} and {@code columns}); {@code sources}, each a
 * {@code table}, a {@code query} (a string, or an array of lines) and optionally a
 * {@code canonicalType}; {@code dependencies}, each a {@code table} with a {@code keyColumn} or a
 * {@code query}, and a {@code canonicalTable} when there are several sources; and
 * {@code onFailure}, {@code halt} (the default) or {@code skip}. Unknown fields are refused, so
 * that a misspelt one is not silently ignored. See docs/projections.md.
 */
final class ProjectionFile {

    private static final ObjectReader READER = Json.mapper().reader()
            .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .with(StreamReadFeature.STRICT_DUPLICATE_DETECTION);

    private static final List<String> PROJECTION_FIELDS =
            List.of("name", "into", "shardColumn", "intoColumns", "sources", "dependencies", "onFailure");
    private static final List<String> INTO_COLUMNS_FIELDS = List.of("table", "columns");
    private static final List<String> SOURCE_FIELDS = List.of("table", "canonicalType", "query");
    private static final List<String> DEPENDENCY_FIELDS = List.of("table", "keyColumn", "query", "canonicalTable");

    private static final String EXAMPLE = "{\"projections\": [{\"name\": \"journal_entry\", \"into\": \"public.journal_entry\","
            + " \"sources\": [{\"table\": \"public.invoice\", \"query\": \"SELECT ... WHERE i.id = ANY(:ids::bigint[])\"}]}]}";

    private final String file;

    private ProjectionFile(String file) {
        this.file = file;
    }

    /** The projections {@code path} declares, checked as far as can be without a database. */
    static List<Projection> read(Path path) {
        String text;
        try {
            text = Files.readString(path);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("--file " + path + " does not exist; give the JSON file that declares the"
                    + " SQL projections (see docs/projections.md)");
        } catch (IOException e) {
            throw new IllegalArgumentException("Cannot read --file " + path + ": " + e.getMessage());
        }
        return parse(path.toString(), text);
    }

    /** The projections {@code text} declares; {@code file} names it in errors. */
    static List<Projection> parse(String file, String text) {
        JsonNode root;
        try {
            root = READER.readTree(text);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw new IllegalArgumentException(file + " is not valid JSON" + where + ": "
                    + e.getOriginalMessage().replaceAll("\\s+", " "));
        }
        return new ProjectionFile(file).projections(root);
    }

    private List<Projection> projections(JsonNode root) {
        if (root == null || !root.isObject() || !root.path("projections").isArray()) {
            throw fail("", "must be a JSON object with a \"projections\" array, e.g. " + EXAMPLE);
        }
        fields(root, "", List.of("projections"));
        List<Projection> out = new ArrayList<>();
        Set<String> names = new HashSet<>();
        int i = 0;
        for (JsonNode p : root.get("projections")) {
            String at = "projections[" + i++ + "]";
            if (!p.isObject()) throw fail(at, "must be an object with name, into (or intoColumns) and sources");
            String name = text(p, at, "name", true);
            Projection.Builder b;
            try {
                b = Projection.named(name);
            } catch (ProjectionException e) {
                throw fail(at + ":", e.getMessage());
            }
            String here = "projection " + name;
            if (!names.add(name)) throw fail(here, "is declared twice; each projection needs its own name");
            out.add(projection(p, here, b));
        }
        if (out.isEmpty()) throw fail("projections", "is empty; declare at least one projection, e.g. " + EXAMPLE);
        return out;
    }

    private Projection projection(JsonNode p, String at, Projection.Builder b) {
        fields(p, at, PROJECTION_FIELDS);
        String into = text(p, at, "into", false);
        JsonNode columns = p.get("intoColumns");
        if ((into == null) == (columns == null)) {
            throw fail(at, "needs exactly one of \"into\" (a read table, e.g. \"public.journal_entry\") and \"intoColumns\""
                    + " ({\"table\": \"public.invoice\", \"columns\": [\"total_amount\"]})");
        }
        String shard = text(p, at, "shardColumn", false);
        try {
            if (into != null) {
                b.into(into, shard);
            } else {
                if (shard != null) throw fail(at, "\"shardColumn\" goes with \"into\"; computed columns have no shard column");
                if (!columns.isObject()) throw fail(at, "\"intoColumns\" must be an object: {\"table\": ..., \"columns\": [...]}");
                fields(columns, at + ", intoColumns", INTO_COLUMNS_FIELDS);
                b.intoColumns(text(columns, at + ", intoColumns", "table", true), strings(columns, at + ", intoColumns", "columns"));
            }
            JsonNode sources = array(p, at, "sources", true);
            if (sources.isEmpty()) throw fail(at, "\"sources\" is empty; give at least one {\"table\": ..., \"query\": ...}");
            objects(sources, at + ", sources", "table and query", SOURCE_FIELDS, (s, sat) -> {
                String table = text(s, sat, "table", true);
                String type = text(s, sat, "canonicalType", false);
                String query = query(s, sat, true);
                if (type == null) b.fromQuery(table, query);
                else b.fromQuery(table, type, query);
            });
            objects(array(p, at, "dependencies", false), at + ", dependencies", "table, and keyColumn or query",
                    DEPENDENCY_FIELDS, (d, dat) -> {
                        String table = text(d, dat, "table", true);
                        String keyColumn = text(d, dat, "keyColumn", false);
                        String query = query(d, dat, false);
                        String canonical = text(d, dat, "canonicalTable", false);
                        if ((keyColumn == null) == (query == null)) {
                            throw fail(dat, "needs exactly one of \"keyColumn\" (the column naming the canonical key, e.g."
                                    + " \"invoice_id\") and \"query\" (from the changed rows' :ids to the canonical keys)");
                        }
                        if (keyColumn != null) b.dependsOnColumn(table, keyColumn, canonical);
                        else b.dependsOn(table, canonical, query);
                    });
            String policy = text(p, at, "onFailure", false);
            if (policy != null) b.onFailure(policy(policy, at));
            return b.build();
        } catch (ProjectionException e) {
            // The library's message names the projection already; say which file it came from.
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    private FailurePolicy policy(String text, String at) {
        return switch (text.toLowerCase(Locale.ROOT)) {
            case "halt" -> FailurePolicy.HALT;
            case "skip" -> FailurePolicy.SKIP;
            default -> throw fail(at, "\"onFailure\" is '" + text + "'; use \"halt\" (stop at the change, the default)"
                    + " or \"skip\" (quarantine it and go on)");
        };
    }

    /** Calls {@code each} with every element of {@code array} (none when null): objects of the {@code known} fields. */
    private void objects(JsonNode array, String at, String shape, List<String> known,
                         java.util.function.BiConsumer<JsonNode, String> each) {
        if (array == null) return;
        int i = 0;
        for (JsonNode node : array) {
            String here = at + "[" + i++ + "]";
            if (!node.isObject()) throw fail(here, "must be an object with " + shape);
            fields(node, here, known);
            each.accept(node, here);
        }
    }

    /** A query: one string, or an array of lines joined by newlines (JSON has no multi-line strings). */
    private String query(JsonNode node, String at, boolean required) {
        JsonNode q = node.get("query");
        if (q == null || q.isNull()) {
            if (required) throw fail(at, "\"query\" is missing; give the SQL that derives the read rows of the canonical"
                    + " keys in :ids, e.g. \"SELECT i.id AS canonical_pk, ... FROM invoice i WHERE i.id = ANY(:ids::bigint[])\"");
            return null;
        }
        if (q.isTextual()) return q.textValue();
        if (q.isArray() && !q.isEmpty()) {
            List<String> lines = new ArrayList<>();
            for (JsonNode line : q) {
                if (!line.isTextual()) throw fail(at, "\"query\" lines must all be strings");
                lines.add(line.textValue());
            }
            return String.join("\n", lines);
        }
        throw fail(at, "\"query\" must be a string, or an array of lines");
    }

    private String text(JsonNode node, String at, String field, boolean required) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            if (required) throw fail(at, "\"" + field + "\" is missing");
            return null;
        }
        if (!v.isTextual() || v.textValue().isBlank()) throw fail(at, "\"" + field + "\" must be a non-empty string");
        return v.textValue();
    }

    private JsonNode array(JsonNode node, String at, String field, boolean required) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            if (required) throw fail(at, "\"" + field + "\" is missing; give an array");
            return null;
        }
        if (!v.isArray()) throw fail(at, "\"" + field + "\" must be an array");
        return v;
    }

    private String[] strings(JsonNode node, String at, String field) {
        JsonNode v = array(node, at, field, true);
        List<String> out = new ArrayList<>();
        for (JsonNode s : v) {
            if (!s.isTextual()) throw fail(at, "\"" + field + "\" must be an array of column names");
            out.add(s.textValue());
        }
        return out.toArray(String[]::new);
    }

    /** Refuses a field that is not in {@code known}: a misspelt one would otherwise be ignored. */
    private void fields(JsonNode node, String at, List<String> known) {
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!known.contains(f)) {
                throw fail(at, "has an unknown field \"" + f + "\"; the fields are " + String.join(", ", known));
            }
        }
    }

    private IllegalArgumentException fail(String at, String message) {
        return new IllegalArgumentException(file + (at.isEmpty() ? " " : ": " + at + " ") + message);
    }
}
