package io.annals.context;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** JSON conversions shared by contexts and messages; one mapper, configured once. */
final class ContextJson {

    static final ObjectMapper MAPPER = new ObjectMapper();

    private ContextJson() {
    }

    static ObjectNode newObject() {
        return MAPPER.createObjectNode();
    }

    /**
     * Converts one context value to a JSON tree, naming the key on failure. Converting eagerly
     * both validates the value and decouples the context from later mutation of what the
     * application passed in.
     */
    static JsonNode toNode(String key, Object value) {
        try {
            JsonNode node = MAPPER.valueToTree(value);
            // valueToTree may keep binary or opaque nodes; a text round trip leaves only JSON.
            return node != null && (node.isBinary() || node.isPojo()) ? MAPPER.readTree(MAPPER.writeValueAsString(node)) : node;
        } catch (IllegalArgumentException | JsonProcessingException e) {
            throw new InvalidContextException("Annals context value for key \"" + key + "\" (" + (value == null ? "null" : value.getClass().getName())
                    + ") cannot be written as JSON: " + e.getMessage()
                    + ". Use strings, numbers, booleans, null, maps, lists or simple beans.", e);
        }
    }

    static String write(ObjectNode tree) {
        try {
            return MAPPER.writeValueAsString(tree);
        } catch (JsonProcessingException e) {
            // A tree built from JSON nodes only cannot fail to serialise.
            throw new IllegalStateException(e);
        }
    }

    static AnnalsContext parseObject(String json) {
        JsonNode tree;
        try {
            tree = MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new InvalidContextException("Context message is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (tree == null || !tree.isObject()) {
            throw new InvalidContextException("Context message is not a JSON object: " + abbreviate(json));
        }
        return new AnnalsContext((ObjectNode) tree);
    }

    /** A deeply unmodifiable Java view of a JSON object, keeping key order and null values. */
    static Map<String, Object> toMap(ObjectNode tree) {
        Map<String, Object> map = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : tree.properties()) {
            map.put(field.getKey(), toJava(field.getValue()));
        }
        return Collections.unmodifiableMap(map);
    }

    private static Object toJava(JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            return null;
        }
        if (node.isObject()) {
            return toMap((ObjectNode) node);
        }
        if (node.isArray()) {
            List<Object> list = new ArrayList<>(node.size());
            node.forEach(element -> list.add(toJava(element)));
            return Collections.unmodifiableList(list);
        }
        if (node.isNumber()) {
            return node.numberValue();
        }
        if (node.isBoolean()) {
            return node.booleanValue();
        }
        return node.asText();
    }

    static int utf8Length(String s) {
        int bytes = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                bytes += 1;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                bytes += 4;
                i++;
            } else {
                bytes += 3;
            }
        }
        return bytes;
    }

    /** The longest prefix of {@code s} that fits in {@code maxBytes} of UTF-8, never splitting a surrogate pair. */
    static String truncateUtf8(String s, int maxBytes) {
        int bytes = 0;
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            int width;
            int chars = 1;
            if (c < 0x80) {
                width = 1;
            } else if (c < 0x800) {
                width = 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                width = 4;
                chars = 2;
            } else {
                width = 3;
            }
            if (bytes + width > maxBytes) {
                break;
            }
            bytes += width;
            i += chars;
        }
        return s.substring(0, i);
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }
}
