package io.annals.capture.value;

import io.annals.capture.value.PgType.Attribute;

import java.util.List;
import java.util.Objects;

/**
 * Turns PostgreSQL text output (what pgoutput sends in text mode) into the JSON that
 * {@code to_jsonb()} produces for the same value, so that a row image built from the column texts
 * compares equal, as {@code jsonb}, to {@code to_jsonb(row)}.
 *
 * <p>The rules follow {@code json_categorize_type()} / {@code datum_to_jsonb()}: domains are looked
 * through to their base type; {@code bool} becomes {@code true}/{@code false}; {@code int2},
 * {@code int4}, {@code int8}, {@code float4}, {@code float8} and {@code numeric} become bare numbers,
 * except {@code NaN} and {@code [-]Infinity}, which become strings; {@code json} and {@code jsonb} are
 * embedded as they are; {@code timestamp} and {@code timestamptz} get the XSD form ({@code T} between
 * date and time, zone offsets at least {@code +HH:MM}); arrays (also {@code int2vector} and
 * {@code oidvector}) become nested JSON arrays and composites JSON objects, both with their elements
 * and attributes converted by the same rules; everything else (text types, {@code date}, {@code time},
 * {@code timetz}, {@code interval}, enums, ranges, multiranges, {@code bytea}, network, geometric,
 * bit string, {@code money}, {@code uuid}, {@code xml}, ...) becomes a JSON string of the text output.
 *
 * <p>The text must have been produced with the settings the capture session uses:
 * {@code DateStyle=ISO}, {@code IntervalStyle=postgres}, {@code extra_float_digits=3},
 * {@code bytea_output=hex}, {@code TimeZone=UTC} (any zone works for the conversion itself).
 *
 * <p>Known gap: for user-defined types with an explicit cast to {@code json} (such as
 * {@code hstore}), {@code to_jsonb} calls the cast function, which this class cannot; it writes a
 * JSON string of the text output instead ({@link PgType#castToJson()} tells which types are affected).
 *
 * <p>Thread-safe and stateless apart from the shared {@link PgTypes}. Scalars are written straight
 * from the input string without intermediate objects; arrays and composites are parsed in place and
 * allocate only for elements that contain escapes.
 */
public final class ValueConverter {

    private static final int BOOL = 16;
    private static final int BYTEA = 17;
    private static final int CHAR = 18;
    private static final int NAME = 19;
    private static final int INT8 = 20;
    private static final int INT2 = 21;
    private static final int INT4 = 23;
    private static final int TEXT = 25;
    private static final int OID = 26;
    private static final int JSON = 114;
    private static final int XML = 142;
    private static final int FLOAT4 = 700;
    private static final int FLOAT8 = 701;
    private static final int INET = 869;
    private static final int BPCHAR = 1042;
    private static final int VARCHAR = 1043;
    private static final int DATE = 1082;
    private static final int TIME = 1083;
    private static final int TIMESTAMP = 1114;
    private static final int TIMESTAMPTZ = 1184;
    private static final int INTERVAL = 1186;
    private static final int TIMETZ = 1266;
    private static final int NUMERIC = 1700;
    private static final int UUID = 2950;
    private static final int JSONB = 3802;

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private final PgTypes types;

    /** A writer that resolves non-built-in type OIDs through {@code types}. */
    public ValueConverter(PgTypes types) {
        this.types = Objects.requireNonNull(types, "types");
    }

    /** The type catalog this writer uses. */
    public PgTypes types() {
        return types;
    }

    /**
     * Appends the JSON for one non-null value.
     *
     * @param out     where to write
     * @param typeOid the column's type OID (as pgoutput reports it; domains are fine)
     * @param text    the value's text output
     * @throws IllegalArgumentException if {@code text} is not a well-formed text output of an array
     *                                  or composite type, or a composite's text does not match the
     *                                  catalog's attribute list (schema changed: invalidate and retry)
     * @throws TypeLookupException      if {@code typeOid} cannot be resolved
     */
    public void appendJson(StringBuilder out, int typeOid, String text) {
        value(out, typeOid, text, 0, text.length());
    }

    /** As {@link #appendJson(StringBuilder, int, String)}, for {@code text.substring(start, end)}. */
    public void appendJson(StringBuilder out, int typeOid, String text, int start, int end) {
        Objects.checkFromToIndex(start, end, text.length());
        value(out, typeOid, text, start, end);
    }

    /** The JSON for one non-null value; {@code null} text gives {@code "null"}. */
    public String toJson(int typeOid, String text) {
        if (text == null) return "null";
        StringBuilder out = new StringBuilder(text.length() + 8);
        value(out, typeOid, text, 0, text.length());
        return out.toString();
    }

    /**
     * Appends a JSON object {@code {"name": value, ...}} for one row image; a {@code null} text
     * becomes JSON {@code null}. The three arrays are parallel and must have the same length.
     */
    public void appendRow(StringBuilder out, String[] names, int[] typeOids, String[] texts) {
        if (names.length != typeOids.length || names.length != texts.length) {
            throw new IllegalArgumentException("names, typeOids and texts differ in length: "
                    + names.length + ", " + typeOids.length + ", " + texts.length);
        }
        out.append('{');
        for (int k = 0; k < names.length; k++) {
            if (k > 0) out.append(',');
            appendJsonString(out, names[k]);
            out.append(':');
            String v = texts[k];
            if (v == null) {
                out.append("null");
            } else {
                value(out, typeOids[k], v, 0, v.length());
            }
        }
        out.append('}');
    }

    /** Appends {@code s} as a JSON string literal, quotes included. */
    public static void appendJsonString(StringBuilder out, CharSequence s) {
        appendJsonString(out, s, 0, s.length());
    }

    /**
     * Appends {@code s[start, end)} as a JSON string literal: {@code "} and {@code \} backslash-escaped,
     * {@code \b \f \n \r \t} as such, other control characters below U+0020 as {@code \}{@code u00XX},
     * everything else as is.
     */
    public static void appendJsonString(StringBuilder out, CharSequence s, int start, int end) {
        out.append('"');
        int run = start;
        for (int i = start; i < end; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == '"' || c == '\\') {
                if (run < i) out.append(s, run, i);
                escape(out, c);
                run = i + 1;
            }
        }
        if (run < end) out.append(s, run, end);
        out.append('"');
    }

    // ---------------------------------------------------------------------------------------------

    private void value(StringBuilder out, int oid, String s, int from, int to) {
        switch (oid) {
            case BOOL -> out.append(to > from && s.charAt(from) == 't' ? "true" : "false");
            case INT2, INT4, INT8, JSON, JSONB -> out.append(s, from, to);
            case FLOAT4, FLOAT8, NUMERIC -> number(out, s, from, to);
            case TIMESTAMP -> timestamp(out, s, from, to, false);
            case TIMESTAMPTZ -> timestamp(out, s, from, to, true);
            case TEXT, VARCHAR, BPCHAR, NAME, CHAR, DATE, TIME, TIMETZ, INTERVAL, UUID, BYTEA, OID, INET, XML ->
                    string(out, s, from, to);
            default -> typed(out, types.get(oid), s, from, to);
        }
    }

    private void typed(StringBuilder out, PgType t, String s, int from, int to) {
        switch (t.kind()) {
            case DOMAIN -> value(out, t.baseOid(), s, from, to);
            case ARRAY -> array(out, t, s, from, to);
            case COMPOSITE -> record(out, t, s, from, to);
            default -> string(out, s, from, to);
        }
    }

    private static void string(StringBuilder out, String s, int from, int to) {
        out.append('"');
        int run = from;
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == '"' || c == '\\') {
                if (run < i) out.append(s, run, i);
                escape(out, c);
                run = i + 1;
            }
        }
        if (run < to) out.append(s, run, to);
        out.append('"');
    }

    private static void escape(StringBuilder out, char c) {
        switch (c) {
            case '"' -> out.append("\\\"");
            case '\\' -> out.append("\\\\");
            case '\b' -> out.append("\\b");
            case '\f' -> out.append("\\f");
            case '\n' -> out.append("\\n");
            case '\r' -> out.append("\\r");
            case '\t' -> out.append("\\t");
            default -> out.append("\\u00").append(HEX[c >> 4]).append(HEX[c & 0xF]);
        }
    }

    /** float4, float8, numeric: a bare number when the text is a valid JSON number, else a string. */
    private static void number(StringBuilder out, String s, int from, int to) {
        if (isJsonNumber(s, from, to)) {
            out.append(s, from, to);
        } else {
            string(out, s, from, to);
        }
    }

    /** {@code -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?}, as PostgreSQL's IsValidJsonNumber(). */
    static boolean isJsonNumber(CharSequence s, int from, int to) {
        int i = from;
        if (i < to && s.charAt(i) == '-') i++;
        if (i >= to) return false;
        char c = s.charAt(i);
        if (c == '0') {
            i++;
        } else if (c >= '1' && c <= '9') {
            i++;
            while (i < to && isDigit(s.charAt(i))) i++;
        } else {
            return false;
        }
        if (i < to && s.charAt(i) == '.') {
            int digits = ++i;
            while (i < to && isDigit(s.charAt(i))) i++;
            if (i == digits) return false;
        }
        if (i < to && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            i++;
            if (i < to && (s.charAt(i) == '+' || s.charAt(i) == '-')) i++;
            int digits = i;
            while (i < to && isDigit(s.charAt(i))) i++;
            if (i == digits) return false;
        }
        return i == to;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    /**
     * timestamp / timestamptz in ISO DateStyle ({@code 2024-01-02 03:04:05.123456+00}, possibly with a
     * trailing {@code " BC"}) to the XSD form to_jsonb uses ({@code 2024-01-02T03:04:05.123456+00:00}).
     * {@code infinity} and {@code -infinity} contain no space and pass through.
     */
    private static void timestamp(StringBuilder out, String s, int from, int to, boolean withZone) {
        out.append('"');
        int space = indexOf(s, ' ', from, to);
        if (space < 0) {
            out.append(s, from, to);
        } else {
            out.append(s, from, space).append('T');
            int i = space + 1;
            if (withZone) {
                int sign = i;
                while (sign < to && s.charAt(sign) != '+' && s.charAt(sign) != '-') sign++;
                if (sign < to) {
                    int end = indexOf(s, ' ', sign, to);
                    if (end < 0) end = to;
                    out.append(s, i, end);
                    if (end - sign == 3) out.append(":00"); // "+HH" -> "+HH:00"
                    i = end;
                }
            }
            out.append(s, i, to);
        }
        out.append('"');
    }

    private static int indexOf(String s, char c, int from, int to) {
        for (int i = from; i < to; i++) {
            if (s.charAt(i) == c) return i;
        }
        return -1;
    }

    private static boolean isArraySpace(char c) {
        // array_in's notion of whitespace (scanner_isspace)
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\u000b';
    }

    // ---------------------------------------------------------------------------------------------
    // Arrays: {a,b}, {{1,2},{3,4}}, [0:1]={1,2}, {"quoted \" \\ element",NULL}, box's {a;b}, and the
    // brace-less int2vector / oidvector form "1 2 3".

    private void array(StringBuilder out, PgType t, String s, int from, int to) {
        int elem = t.elementOid();
        char delim = t.delimiter();
        int i = from;
        if (i < to && s.charAt(i) == '[') { // explicit bounds: [lo:hi][lo:hi]={...}
            int eq = indexOf(s, '=', i, to);
            if (eq < 0) throw malformed(t, s, from, to, "dimensions without '='");
            i = eq + 1;
        }
        if (i >= to || s.charAt(i) != '{') {
            if (i == from) {
                vector(out, elem, s, from, to);
                return;
            }
            throw malformed(t, s, from, to, "no '{' after dimensions");
        }
        int depth = 0;
        while (i < to) {
            char c = s.charAt(i);
            if (c == '{') {
                out.append('[');
                depth++;
                i++;
            } else if (c == '}') {
                out.append(']');
                i++;
                if (--depth == 0) break;
            } else if (c == delim) {
                out.append(',');
                i++;
            } else if (c == '"') {
                i = quotedElement(out, t, elem, s, i, to, from);
            } else if (isArraySpace(c)) {
                i++;
            } else {
                i = unquotedElement(out, t, elem, delim, s, i, to, from);
            }
        }
        if (depth != 0) throw malformed(t, s, from, to, "unbalanced braces");
    }

    private int quotedElement(StringBuilder out, PgType t, int elem, String s, int open, int to, int from) {
        int j = open + 1;
        boolean escaped = false;
        while (true) {
            if (j >= to) throw malformed(t, s, from, to, "unterminated quoted element");
            char c = s.charAt(j);
            if (c == '"') break;
            if (c == '\\') {
                escaped = true;
                j += 2;
            } else {
                j++;
            }
        }
        if (escaped) {
            String u = unescapeBackslashes(s, open + 1, j);
            value(out, elem, u, 0, u.length());
        } else {
            value(out, elem, s, open + 1, j);
        }
        return j + 1;
    }

    private int unquotedElement(StringBuilder out, PgType t, int elem, char delim, String s, int start, int to,
                                int from) {
        int j = start;
        boolean escaped = false;
        while (j < to) {
            char c = s.charAt(j);
            if (c == delim || c == '}') break;
            if (c == '\\') {
                escaped = true;
                j += 2;
            } else {
                j++;
            }
        }
        if (j > to) throw malformed(t, s, from, to, "dangling backslash");
        int end = j;
        while (end > start && isArraySpace(s.charAt(end - 1))) end--;
        if (escaped) {
            String u = unescapeBackslashes(s, start, end);
            value(out, elem, u, 0, u.length());
        } else if (end - start == 4 && s.regionMatches(true, start, "NULL", 0, 4)) {
            out.append("null");
        } else {
            value(out, elem, s, start, end);
        }
        return j;
    }

    private static String unescapeBackslashes(String s, int from, int to) {
        StringBuilder b = new StringBuilder(to - from);
        for (int k = from; k < to; k++) {
            char c = s.charAt(k);
            if (c == '\\' && k + 1 < to) c = s.charAt(++k);
            b.append(c);
        }
        return b.toString();
    }

    /** int2vector / oidvector: space-separated elements without braces; empty text is an empty array. */
    private void vector(StringBuilder out, int elem, String s, int from, int to) {
        out.append('[');
        boolean first = true;
        int i = from;
        while (true) {
            while (i < to && s.charAt(i) == ' ') i++;
            if (i >= to) break;
            int j = i;
            while (j < to && s.charAt(j) != ' ') j++;
            if (!first) out.append(',');
            first = false;
            value(out, elem, s, i, j);
            i = j;
        }
        out.append(']');
    }

    // ---------------------------------------------------------------------------------------------
    // Composites: (a,b,...) with empty fields as NULL, "" as the empty string, values quoted when they
    // contain special characters, and inside quotes "" and \x as escapes.

    private void record(StringBuilder out, PgType t, String s, int from, int to) {
        if (to - from < 2 || s.charAt(from) != '(' || s.charAt(to - 1) != ')') {
            throw malformed(t, s, from, to, "not enclosed in parentheses");
        }
        int limit = to - 1;
        List<Attribute> attributes = t.attributes();
        int n = attributes.size();
        out.append('{');
        int i = from + 1;
        for (int k = 0; k < n; k++) {
            if (k > 0) {
                if (i >= limit || s.charAt(i) != ',') throw attributeMismatch(t, s, from, to);
                i++;
                out.append(',');
            }
            Attribute a = attributes.get(k);
            appendJsonString(out, a.name());
            out.append(':');
            i = field(out, t, a.typeOid(), s, i, limit, from, to);
        }
        if (i != limit) throw attributeMismatch(t, s, from, to);
        out.append('}');
    }

    /** Converts one composite field starting at {@code i}; returns the index of the ',' or ')' after it. */
    private int field(StringBuilder out, PgType t, int oid, String s, int i, int limit, int from, int to) {
        int j = i;
        boolean inQuotes = false;
        boolean complex = false; // the value is not simply s[i, j) or s[i + 1, j - 1)
        int quotes = 0;
        while (true) {
            if (j >= limit) {
                if (inQuotes || j > limit) throw malformed(t, s, from, to, "unterminated field");
                break;
            }
            char c = s.charAt(j);
            if (inQuotes) {
                if (c == '\\') {
                    complex = true;
                    j += 2;
                } else if (c == '"') {
                    if (j + 1 < limit && s.charAt(j + 1) == '"') {
                        complex = true;
                        j += 2;
                    } else {
                        inQuotes = false;
                        j++;
                    }
                } else {
                    j++;
                }
            } else {
                if (c == ',' || c == ')') break;
                if (c == '"') {
                    if (quotes++ > 0 || j != i) complex = true;
                    inQuotes = true;
                } else if (c == '\\') {
                    complex = true;
                    j++;
                } else if (quotes > 0) {
                    complex = true;
                }
                j++;
            }
        }
        if (j == i) {
            out.append("null");
        } else if (complex) {
            String u = unescapeRecordField(s, i, j);
            value(out, oid, u, 0, u.length());
        } else if (quotes == 1) {
            value(out, oid, s, i + 1, j - 1);
        } else {
            value(out, oid, s, i, j);
        }
        return j;
    }

    private static String unescapeRecordField(String s, int from, int to) {
        StringBuilder b = new StringBuilder(to - from);
        boolean inQuotes = false;
        for (int k = from; k < to; k++) {
            char c = s.charAt(k);
            if (c == '\\' && k + 1 < to) {
                b.append(s.charAt(++k));
            } else if (c == '"') {
                if (inQuotes && k + 1 < to && s.charAt(k + 1) == '"') {
                    b.append('"');
                    k++;
                } else {
                    inQuotes = !inQuotes;
                }
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    // ---------------------------------------------------------------------------------------------

    private static IllegalArgumentException malformed(PgType t, String s, int from, int to, String why) {
        return new IllegalArgumentException("Malformed text for type " + t.name() + " (OID "
                + Integer.toUnsignedString(t.oid()) + "): " + why + ": " + snippet(s, from, to));
    }

    private static IllegalArgumentException attributeMismatch(PgType t, String s, int from, int to) {
        return new IllegalArgumentException("Record text does not match the " + t.attributes().size()
                + " attributes of composite type " + t.name() + " (OID " + Integer.toUnsignedString(t.oid())
                + "; schema changed? invalidate the type and retry): " + snippet(s, from, to));
    }

    private static String snippet(String s, int from, int to) {
        return to - from <= 200 ? s.substring(from, to) : s.substring(from, from + 200) + "...";
    }
}
