package io.annals.context;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamWriteConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.ZoneId;
import java.time.temporal.TemporalAccessor;
import java.time.temporal.TemporalAmount;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** JSON conversions shared by contexts and messages; one mapper, configured once. */
final class ContextJson {

    /**
     * Nesting (counting the context object itself) is bounded well below what the stack allows
     * because Jackson does not detect cycles through maps and lists, and a context nested a
     * hundred levels deep is a mistake anyway.
     */
    static final int MAX_NESTING = 100;

    // Floats are read as BigDecimal so that the recorded JSON keeps every digit it was given.
    // Times are common in contexts and their ISO-8601 text is what anyone reading the change log
    // expects, without making applications pull in Jackson's java.time module.
    static final ObjectMapper MAPPER = JsonMapper.builder(JsonFactory.builder()
                    .streamWriteConstraints(StreamWriteConstraints.builder().maxNestingDepth(MAX_NESTING).build())
                    .build())
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .addModule(new SimpleModule("annals-java-time")
                    .addSerializer(TemporalAccessor.class, ToStringSerializer.instance)
                    .addSerializer(TemporalAmount.class, ToStringSerializer.instance)
                    .addSerializer(ZoneId.class, ToStringSerializer.instance))
            .build();

    private ContextJson() {
    }

    static ObjectNode newObject() {
        return MAPPER.createObjectNode();
    }

    /**
     * Converts one context value to a JSON tree, naming the key on failure. Converting eagerly
     * both validates the value and decouples the context from later mutation of what the
     * application passed in. Going through text, rather than straight to a tree, leaves exactly
     * the nodes that parsing the recorded message gives back, and enforces {@link #MAX_NESTING}.
     */
    static JsonNode toNode(String key, Object value) {
        // The common scalars directly (a context is built per request): the same nodes parsing gives back.
        switch (value) {
            case null -> {
                return NullNode.getInstance();
            }
            case String text -> {
                return TextNode.valueOf(text);
            }
            case Boolean flag -> {
                return BooleanNode.valueOf(flag);
            }
            case Integer number -> {
                return IntNode.valueOf(number);
            }
            case Long number when number == number.intValue() -> {
                return IntNode.valueOf(number.intValue());
            }
            case Long number -> {
                return LongNode.valueOf(number);
            }
            default -> {
                // Everything else goes through text below.
            }
        }
        try {
            // Written inside an object, as it will be in the context, so nesting counts alike.
            return MAPPER.readTree(MAPPER.writeValueAsString(Collections.singletonMap(key, value))).get(key);
        } catch (IllegalArgumentException | JsonProcessingException e) {
            throw new InvalidContextException("Annals context value for key \"" + key + "\" ("
                    + (value == null ? "null" : value.getClass().getName()) + ") cannot be written as JSON: " + describe(e)
                    + ". Context values must be strings, numbers, booleans, null, java.time values, maps, lists, arrays"
                    + " or simple beans (Annals writes them with its own JSON mapper); convert anything else first.", e);
        }
    }

    /** Jackson's reason and where in the value it arose, without the wrapper map we added. */
    private static String describe(Exception e) {
        if (!(e instanceof JsonMappingException mapping)) {
            return e.getMessage();
        }
        List<JsonMappingException.Reference> path = mapping.getPath();
        StringBuilder where = new StringBuilder();
        for (JsonMappingException.Reference step : path) {
            if (step.getFieldName() != null) {
                where.append(where.isEmpty() ? "" : ".").append(step.getFieldName());
            } else if (step.getIndex() >= 0) {
                where.append('[').append(step.getIndex()).append(']');
            }
        }
        return mapping.getOriginalMessage() + (path.size() > 1 ? " (at " + where + ")" : "");
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
        if (node.isIntegralNumber()) {
            BigInteger value = node.bigIntegerValue();
            return value.bitLength() < Integer.SIZE ? (Object) value.intValue()
                    : value.bitLength() < Long.SIZE ? (Object) value.longValue() : value;
        }
        if (node.isNumber()) {
            // A double where it is exact, so that 0.5 reads back as the 0.5 that was put in.
            BigDecimal value = node.decimalValue();
            double approximation = value.doubleValue();
            return Double.isFinite(approximation) && new BigDecimal(Double.toString(approximation)).compareTo(value) == 0
                    ? (Object) approximation : value;
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
