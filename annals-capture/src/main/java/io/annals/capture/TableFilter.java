package io.annals.capture;

import java.util.List;
import java.util.regex.Pattern;

/**
 * Which tables are captured: those matching an include pattern (all, when there are none) and
 * no exclude pattern. Patterns are {@code schema.table} globs where {@code *} matches any run of
 * characters, e.g. {@code public.*}, {@code *.audit_*}; a pattern without a dot matches the table
 * name in any schema. The change log's own schema and the system schemas are never captured.
 *
 * <pre>{@code
 * TableFilter f = TableFilter.of(List.of("public.*"), List.of("public.sessions"));
 * f.captures("public", "todo");      // true
 * f.captures("public", "sessions");  // false
 * }</pre>
 */
public record TableFilter(List<String> includes, List<String> excludes) {

    private static final List<String> NEVER = List.of("annals", "pg_catalog", "information_schema", "pg_toast");

    public TableFilter {
        includes = List.copyOf(includes);
        excludes = List.copyOf(excludes);
        for (String p : includes) validate(p);
        for (String p : excludes) validate(p);
    }

    /** Every user table. */
    public static TableFilter all() {
        return new TableFilter(List.of(), List.of());
    }

    public static TableFilter of(List<String> includes, List<String> excludes) {
        return new TableFilter(includes, excludes);
    }

    /** True when changes to {@code schema.table} are captured. */
    public boolean captures(String schema, String table) {
        if (NEVER.contains(schema) || schema.startsWith("pg_temp") || schema.startsWith("pg_toast")) return false;
        if (!includes.isEmpty() && includes.stream().noneMatch(p -> matches(p, schema, table))) return false;
        return excludes.stream().noneMatch(p -> matches(p, schema, table));
    }

    static boolean matches(String pattern, String schema, String table) {
        int dot = pattern.indexOf('.');
        if (dot < 0) return glob(pattern).matcher(table).matches();
        return glob(pattern.substring(0, dot)).matcher(schema).matches()
                && glob(pattern.substring(dot + 1)).matcher(table).matches();
    }

    static Pattern glob(String glob) {
        StringBuilder re = new StringBuilder();
        for (String part : glob.split("\\*", -1)) {
            if (!re.isEmpty()) re.append(".*");
            re.append(Pattern.quote(part));
        }
        return Pattern.compile(re.toString());
    }

    private static void validate(String pattern) {
        if (pattern == null || pattern.isBlank() || pattern.chars().filter(c -> c == '.').count() > 1) {
            throw new IllegalArgumentException("Not a table pattern: '" + pattern
                    + "'. Use table, schema.table or globs such as public.* or *.audit_*");
        }
    }
}
