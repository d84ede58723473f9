package io.annals.projections;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.Json;

import java.math.BigDecimal;
import java.util.Collection;
import java.util.HexFormat;
import java.util.Map;

/**
 * Values in the text form PostgreSQL reads them in, for COPY and for {@code ?::type}
 * parameters. Writing every value as text lets one path serve any column type (the server parses
 * it as the column's type), and what a query read with {@code getString} goes back unchanged.
 */
final class TextValues {

    private TextValues() {
    }

    /** The text of {@code value} for a column of {@code column}'s type; null for SQL NULL. */
    static String text(Object value, TableInfo.Column column) {
        if (value == null) return null;
        if (value instanceof JsonNode n) {
            if (n.isNull()) return null;
            if (column != null && column.json()) return n.toString();
            if (n.isTextual()) return n.textValue();
            if (n.isArray() && column != null && column.array()) return arrayLiteral(n);
            return n.isValueNode() ? n.asText() : n.toString();
        }
        if (value instanceof String s) return s;
        if (value instanceof BigDecimal d) return d.toPlainString();
        if (value instanceof Number || value instanceof Boolean) return value.toString();
        if (value instanceof byte[] bytes) return "\\x" + HexFormat.of().formatHex(bytes);
        if (value instanceof Collection<?> || value instanceof Map<?, ?>) {
            JsonNode tree = Json.mapper().valueToTree(value);
            if (column != null && column.array() && !column.json() && tree.isArray()) return arrayLiteral(tree);
            return tree.toString();
        }
        return value.toString();
    }

    /** A PostgreSQL array literal, every element quoted. */
    private static String arrayLiteral(JsonNode array) {
        StringBuilder b = new StringBuilder("{");
        int i = 0;
        for (JsonNode e : array) {
            if (i++ > 0) b.append(',');
            if (e.isNull()) {
                b.append("NULL");
                continue;
            }
            String s = e.isValueNode() ? e.asText() : (e.isArray() ? arrayLiteral(e) : e.toString());
            if (e.isArray()) {
                b.append(s);
                continue;
            }
            b.append('"');
            for (int k = 0; k < s.length(); k++) {
                char ch = s.charAt(k);
                if (ch == '"' || ch == '\\') b.append('\\');
                b.append(ch);
            }
            b.append('"');
        }
        return b.append('}').toString();
    }

    /** Appends {@code text} as one field of COPY's text format. */
    static void copyField(StringBuilder line, String text) {
        if (text == null) {
            line.append("\\N");
            return;
        }
        for (int i = 0; i < text.length(); i++) {
            char ch = text.charAt(i);
            switch (ch) {
                case '\\' -> line.append("\\\\");
                case '\t' -> line.append("\\t");
                case '\n' -> line.append("\\n");
                case '\r' -> line.append("\\r");
                default -> line.append(ch);
            }
        }
    }

    /** Parses a row image from the log into column values (exact numbers; json as trees). */
    static Map<String, Object> image(String json) {
        if (json == null) return Map.of();
        try {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = Json.exact(Json.mapper().readerFor(Map.class)).readValue(json);
            return java.util.Collections.unmodifiableMap(m);
        } catch (JsonProcessingException e) {
            throw new ProjectionException("A change's image is not JSON: " + e.getOriginalMessage(), e);
        }
    }
}
