package io.annals.capture.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.annals.capture.CaptureException;
import io.annals.changelog.Json;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The last known image of recently changed rows, so that an UPDATE whose stream message lacks
 * values (unchanged TOAST columns, or the old row of a table that logs only its key) can be
 * completed without a query per row.
 *
 * <p>A bounded LRU in front of the change log: misses are fetched from the change log in
 * one query per batch, so a bulk UPDATE of a million rows costs a few hundred index lookups
 * batches, not a million round trips. Bounded by entry count so memory stays flat.
 */
final class LastImages {

    /** One row image: column names and their JSON fragments. */
    record Image(String[] names, String[] values) {
        String get(String name) {
            for (int i = 0; i < names.length; i++) if (names[i].equals(name)) return values[i];
            return null;
        }

        long chars() {
            long n = 64;
            for (int i = 0; i < names.length; i++) n += names[i].length() + (values[i] == null ? 4 : values[i].length()) + 32;
            return n;
        }

        boolean has(String name) {
            for (String n : names) if (n.equals(name)) return true;
            return false;
        }
    }

    private static final ObjectMapper JSON = Json.mapper();

    private final int maxEntries;
    private final long maxChars;
    private long chars;
    private final LinkedHashMap<String, Image> cache;

    /**
     * @param maxEntries at most this many rows
     * @param maxChars   at most about this many characters of JSON in all, so that wide rows with
     *                   large TOASTed values cannot make the cache outgrow a small heap
     */
    LastImages(int maxEntries, long maxChars) {
        this.maxEntries = maxEntries;
        this.maxChars = maxChars;
        this.cache = new LinkedHashMap<>(Math.min(maxEntries, 1 << 16), 0.75f, true);
    }

    Image get(String rowKey) {
        return cache.get(rowKey);
    }

    boolean contains(String rowKey) {
        return cache.containsKey(rowKey);
    }

    void put(String rowKey, Image image) {
        Image old = image == null ? cache.remove(rowKey) : cache.put(rowKey, image);
        if (old != null) chars -= old.chars();
        if (image == null) return;
        chars += image.chars();
        var it = cache.entrySet().iterator();
        while ((cache.size() > maxEntries || chars > maxChars) && it.hasNext()) {
            chars -= it.next().getValue().chars();
            it.remove();
        }
    }

    void clear() {
        cache.clear();
        chars = 0;
    }

    void forgetTable(String schema, String table) {
        String prefix = schema + '\u0000' + table + '\u0000';
        for (Iterator<Map.Entry<String, Image>> it = cache.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Image> e = it.next();
            if (e.getKey().startsWith(prefix)) {
                chars -= e.getValue().chars();
                it.remove();
            }
        }
    }

    static Image parse(String objectJson) {
        try {
            JsonNode node = JSON.readTree(objectJson);
            List<String> names = new ArrayList<>();
            List<String> values = new ArrayList<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = node.properties().iterator(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                names.add(e.getKey());
                values.add(JSON.writeValueAsString(e.getValue()));
            }
            return new Image(names.toArray(String[]::new), values.toArray(String[]::new));
        } catch (java.io.IOException e) {
            throw new CaptureException("An image stored in the change log is not valid JSON: " + e.getMessage(), e);
        }
    }

    /**
     * A number as PostgreSQL's numeric input stores it, which is how jsonb stores it: an exponent
     * is folded in ({@code 1e3} is {@code 1000}), but the scale is kept ({@code 2.50} is not
     * {@code 2.5}: a numeric column that goes from one to the other has changed, and to_jsonb
     * shows it).
     */
    private static java.math.BigDecimal asNumeric(java.math.BigDecimal d) {
        return d.scale() < 0 ? d.setScale(0) : d;
    }

    /**
     * True when two JSON fragments denote the same value. Texts usually match exactly; numbers and
     * nested JSON may be spelled differently by jsonb ({@code 1e3} vs {@code 1000}, key order), but
     * never with another scale.
     */
    static boolean sameValue(String a, String b) {
        // SQL NULL arrives as Java null from the stream and as JSON null from stored images.
        if (a == null) a = "null";
        if (b == null) b = "null";
        if (a.equals(b)) return true;
        char ca = a.isEmpty() ? ' ' : a.charAt(0);
        if (ca == '"' || ca == 't' || ca == 'f' || ca == 'n') return false;
        try {
            return equivalent(JSON.readTree(a), JSON.readTree(b));
        } catch (java.io.IOException e) {
            return false;
        }
    }

    private static boolean equivalent(JsonNode x, JsonNode y) {
        if (x.isNumber() && y.isNumber()) return asNumeric(x.decimalValue()).equals(asNumeric(y.decimalValue()));
        if (x.isObject() && y.isObject()) {
            if (x.size() != y.size()) return false;
            for (Iterator<Map.Entry<String, JsonNode>> it = x.properties().iterator(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode other = y.get(e.getKey());
                if (other == null || !equivalent(e.getValue(), other)) return false;
            }
            return true;
        }
        if (x.isArray() && y.isArray()) {
            if (x.size() != y.size()) return false;
            for (int i = 0; i < x.size(); i++) if (!equivalent(x.get(i), y.get(i))) return false;
            return true;
        }
        return x.equals(y);
    }
}
