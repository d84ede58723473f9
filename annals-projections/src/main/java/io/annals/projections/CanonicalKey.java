package io.annals.projections;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.annals.changelog.Json;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A canonical row's identity: its type and its key, as a JSON object in one normal form
 * (columns sorted, compact, exact numbers), so that the same key from the log, from a query and
 * from a read table compares equal in Java as it does as {@code jsonb} in PostgreSQL.
 */
record CanonicalKey(String type, String json) {

    static CanonicalKey of(String type, String keyJson) {
        return new CanonicalKey(type, normal(keyJson));
    }

    /** The key of a one-column key value (as {@code to_jsonb} of it renders it). */
    static CanonicalKey ofValue(String type, String column, String valueJson) {
        try {
            ObjectNode o = Json.mapper().createObjectNode();
            o.set(column, Json.exact(Json.mapper().reader()).readTree(valueJson));
            return new CanonicalKey(type, Json.mapper().writeValueAsString(o));
        } catch (JsonProcessingException e) {
            throw new ProjectionException("Not a JSON value for key column " + column + ": " + valueJson, e);
        }
    }

    static String normal(String keyJson) {
        try {
            JsonNode node = Json.exact(Json.mapper().reader()).readTree(keyJson);
            if (!node.isObject()) throw new ProjectionException("A canonical key must be a JSON object, not " + keyJson);
            Map<String, JsonNode> sorted = new TreeMap<>();
            for (Map.Entry<String, JsonNode> e : node.properties()) sorted.put(e.getKey(), e.getValue());
            ObjectNode o = Json.mapper().createObjectNode();
            sorted.forEach(o::set);
            return Json.mapper().writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new ProjectionException("Not a JSON key: " + keyJson, e);
        }
    }

    JsonNode node() {
        try {
            return Json.exact(Json.mapper().reader()).readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The key as a {@code canonical_pk} of type text: a one-column key's value as text (a string
     * unquoted), any other key as its JSON.
     */
    String text() {
        JsonNode n = node();
        if (n.size() == 1) {
            JsonNode v = n.elements().next();
            return v.isTextual() ? v.textValue() : v.toString();
        }
        return json;
    }

    /** The value of a one-column key, as text, for a query's {@code :ids}; null if the key has several columns. */
    String idText() {
        JsonNode n = node();
        if (n.size() != 1) return null;
        JsonNode v = n.elements().next();
        return v.isNull() ? null : v.isTextual() ? v.textValue() : v.toString();
    }

    static String jsonArray(List<CanonicalKey> keys) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < keys.size(); i++) {
            if (i > 0) b.append(',');
            b.append(keys.get(i).json);
        }
        return b.append(']').toString();
    }
}
