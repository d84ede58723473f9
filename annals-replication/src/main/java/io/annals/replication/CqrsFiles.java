package io.annals.replication;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Entities and replica tables declared in a JSON file, for the command line: the same
 * declarations as {@link CqrsEntity} and {@link ReplicaTable}, minus the Java hooks.
 *
 * <pre>{@code
 * // master.json: {"entities": [
 * //   {"cqrs_id": "author", "table": "public.author"},
 * //   {"cqrs_id": "book", "table": "public.book", "fields": {"id": "id", "title": "title", "author": "author_id"},
 * //    "previous_data": ["title", "author"], "is_sync": {"draft": false}}]}
 * List<CqrsEntity> entities = CqrsFiles.entities(Path.of("master.json"));
 *
 * // replica.json: {"tables": [{"cqrs_id": "author", "table": "authors", "renames": {"name": "full_name"}}]}
 * List<ReplicaTable> tables = CqrsFiles.replicaTables(Path.of("replica.json"));
 * }</pre>
 */
public final class CqrsFiles {

    private static final Set<String> ENTITY_KEYS = Set.of("cqrs_id", "table", "fields", "previous_data", "is_sync", "query", "related");
    private static final Set<String> TABLE_KEYS = Set.of("cqrs_id", "table", "renames");

    private CqrsFiles() {
    }

    /**
     * The entities of a master's file: {@code {"entities": [{...}, ...]}}, each with
     * {@code cqrs_id}, {@code table}, and optionally {@code fields} (an array of columns, or an
     * object of field → column), {@code previous_data}, {@code is_sync} (an object of field values),
     * {@code query} and {@code related} (table → keys query).
     *
     * @throws IllegalArgumentException naming the file, the entry and what is wrong
     */
    public static List<CqrsEntity> entities(Path file) {
        List<CqrsEntity> out = new ArrayList<>();
        int i = 0;
        for (JsonNode e : list(file, "entities")) {
            String where = file + ": entities[" + i++ + "]";
            check(e, ENTITY_KEYS, where);
            CqrsEntity.Builder b;
            try {
                b = CqrsEntity.builder(text(e, "cqrs_id", where)).table(text(e, "table", where));
                JsonNode fields = e.get("fields");
                if (fields != null && fields.isArray()) {
                    for (JsonNode f : fields) b.fields(f.asText());
                } else if (fields != null && fields.isObject()) {
                    for (Map.Entry<String, JsonNode> f : fields.properties()) b.field(f.getKey(), f.getValue().asText());
                } else if (fields != null) {
                    throw new IllegalArgumentException("fields is an array of columns or an object of field → column");
                }
                JsonNode previous = e.get("previous_data");
                if (previous != null) for (JsonNode f : previous) b.previousData(f.asText());
                if (e.has("is_sync")) b.syncIf(CqrsEntity.containing(e.get("is_sync")));
                if (e.has("query")) b.query(text(e, "query", where));
                JsonNode related = e.get("related");
                if (related != null) for (Map.Entry<String, JsonNode> r : related.properties()) b.related(r.getKey(), r.getValue().asText());
                out.add(b.build());
            } catch (IllegalArgumentException | IllegalStateException ex) {
                throw new IllegalArgumentException(where + ": " + ex.getMessage(), ex);
            }
        }
        return out;
    }

    /**
     * The tables of a replica's file: {@code {"tables": [{"cqrs_id": ..., "table": ..., "renames": {field: column}}]}}.
     *
     * @throws IllegalArgumentException naming the file, the entry and what is wrong
     */
    public static List<ReplicaTable> replicaTables(Path file) {
        List<ReplicaTable> out = new ArrayList<>();
        int i = 0;
        for (JsonNode t : list(file, "tables")) {
            String where = file + ": tables[" + i++ + "]";
            check(t, TABLE_KEYS, where);
            ReplicaTable.Builder b = ReplicaTable.builder(text(t, "cqrs_id", where));
            if (t.has("table")) b.table(text(t, "table", where));
            JsonNode renames = t.get("renames");
            if (renames != null) for (Map.Entry<String, JsonNode> r : renames.properties()) b.rename(r.getKey(), r.getValue().asText());
            out.add(b.build());
        }
        return out;
    }

    private static Iterable<JsonNode> list(Path file, String key) {
        JsonNode root;
        try {
            root = Json.mapper().readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("No such file: " + file);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + " is not valid JSON: " + e.getMessage(), e);
        }
        JsonNode list = root == null ? null : root.get(key);
        if (list == null || !list.isArray() || list.isEmpty()) {
            throw new IllegalArgumentException(file + " needs a non-empty array \"" + key + "\", e.g. {\"" + key
                    + "\": [{\"cqrs_id\": \"author\", \"table\": \"public.author\"}]}");
        }
        return list;
    }

    private static void check(JsonNode entry, Set<String> known, String where) {
        if (!entry.isObject()) throw new IllegalArgumentException(where + " is not an object");
        for (Iterator<String> it = entry.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!known.contains(k)) throw new IllegalArgumentException(where + ": unknown key \"" + k + "\"; known keys are " + known);
        }
    }

    private static String text(JsonNode entry, String key, String where) {
        JsonNode v = entry.get(key);
        if (v == null || !v.isTextual() || v.textValue().isBlank()) throw new IllegalArgumentException(where + " needs \"" + key + "\" (text)");
        return v.textValue();
    }
}
