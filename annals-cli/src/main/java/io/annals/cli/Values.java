package io.annals.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.TextNode;
import io.annals.changelog.Json;
import io.annals.history.Image;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Values typed on the command line, compared as JSON with what the change log stores.
 *
 * <p>A value that is valid JSON keeps its JSON type ({@code 42}, {@code 10.50}, {@code true},
 * {@code null}, {@code "42"}, {@code {"a": 1}}); anything else is a string, as typed. So
 * {@code id=42} matches the integer 42, {@code status=paid} the string "paid", and
 * {@code code='"42"'} (JSON quotes) forces the string "42".
 *
 * <pre>{@code
 * Map<String, Object> key = Values.pairs(List.of("id=7"), "--key", false);   // {id=7}, 7 a number
 * Values.Where w = Values.where("after.status = paid");                       // AFTER, status, =, "paid"
 * }</pre>
 */
final class Values {

    private static final ObjectReader READER = Json.mapper().reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private static final Set<String> OPERATORS = Set.of("=", "<>", "<", "<=", ">", ">=");

    private Values() {
    }

    /** {@code text} as a JSON value when it is valid JSON, else as the string typed. */
    static JsonNode value(String text) {
        try {
            JsonNode node = READER.readTree(text);
            if (node != null && !node.isMissingNode()) return node;
        } catch (JsonProcessingException notJson) {
            // a plain word: a string
        }
        return TextNode.valueOf(text);
    }

    /**
     * {@code name=value} pairs (one per element) as a map in the order given, each value typed by
     * {@link #value(String)}.
     *
     * @param allowNull whether a value may be JSON {@code null} (not in a primary key)
     */
    static Map<String, Object> pairs(List<String> pairs, String option, boolean allowNull) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (String pair : pairs) {
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException(option + " '" + pair + "' is not name=value; use e.g. " + option
                        + " id=42 (JSON numbers, true, false stay typed; quote a string that looks like one: id='\"42\"')");
            }
            String name = pair.substring(0, eq).trim();
            JsonNode value = value(pair.substring(eq + 1));
            if (value.isNull() && !allowNull) {
                throw new IllegalArgumentException(option + " " + name + "=null: a primary key column is never null;"
                        + " give its value, e.g. " + option + " " + name + "=42");
            }
            if (out.put(name, value) != null) {
                throw new IllegalArgumentException(option + " names " + name + " twice; give each column once");
            }
        }
        return out;
    }

    /** A value predicate of {@code --where}: {@code image.column op value}. */
    record Where(Image image, String column, String operator, JsonNode value) {
    }

    /** Parses {@code after.status = paid}, {@code before.amount>=100}, {@code after.note = null}. */
    static Where where(String text) {
        String t = text.trim();
        int dot = t.indexOf('.');
        String image = dot < 0 ? "" : t.substring(0, dot).trim().toLowerCase(Locale.ROOT);
        if (!image.equals("before") && !image.equals("after")) {
            throw whereError(text, "it must start with before. or after. (the image the column is read from)");
        }
        int op = dot + 1;
        while (op < t.length() && "=<>!".indexOf(t.charAt(op)) < 0) op++;
        String column = t.substring(dot + 1, op).trim();
        if (column.isEmpty()) throw whereError(text, "the column name is missing");
        if (op == t.length()) throw whereError(text, "the operator is missing");
        int end = op;
        while (end < t.length() && "=<>!".indexOf(t.charAt(end)) >= 0) end++;
        String operator = t.substring(op, end);
        if (!OPERATORS.contains(operator)) {
            throw whereError(text, "unsupported operator '" + operator + "'" + (operator.equals("!=") ? " (write <>)" : ""));
        }
        String value = t.substring(end).trim();
        if (value.isEmpty()) throw whereError(text, "the value is missing");
        return new Where(image.equals("before") ? Image.BEFORE : Image.AFTER, column, operator, value(value));
    }

    private static IllegalArgumentException whereError(String text, String why) {
        return new IllegalArgumentException("--where '" + text + "': " + why + ". Write image.column op value, e.g."
                + " --where \"after.status = paid\" or --where \"before.amount >= 100\" (op one of = <> < <= > >=)");
    }

    /** One of the {@code choices} (case-insensitive), or an error naming them. */
    static <E extends Enum<E>> E choice(Class<E> type, String text, String option) {
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(text.trim())) return e;
        }
        List<String> names = java.util.Arrays.stream(type.getEnumConstants()).map(e -> e.name().toLowerCase(Locale.ROOT)).toList();
        throw new IllegalArgumentException(option + " '" + text + "' is not one of " + String.join(", ", names));
    }
}
