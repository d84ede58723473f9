package io.annals.history.internal;

import io.annals.changelog.Sql;

import java.util.ArrayList;
import java.util.List;

/**
 * A schema-qualified table name as the change log stores it. Names are compared exactly (they are
 * values, never spliced into SQL): {@code orders} means {@code public.orders}; a part in double
 * quotes may hold a dot ({@code "my.schema".orders}).
 *
 * <pre>{@code
 * TableName t = TableName.parse("orders");   // public.orders
 * String sql = t.sql();                       // "public"."orders", for SQL text
 * }</pre>
 */
public record TableName(String schema, String table) {

    static final String DEFAULT_SCHEMA = "public";

    public TableName {
        if (schema == null || schema.isEmpty() || table == null || table.isEmpty()) {
            throw new IllegalArgumentException("A table name needs a schema and a table, e.g. public.orders");
        }
    }

    /** Parses {@code table}, {@code schema.table}, with optional double quotes around either part. */
    public static TableName parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("A table name is required, e.g. public.orders or orders");
        }
        List<String> parts = new ArrayList<>(2);
        StringBuilder part = new StringBuilder();
        boolean quoted = false;
        boolean wasQuoted = false;
        String t = text.trim();
        for (int i = 0; i < t.length(); i++) {
            char ch = t.charAt(i);
            if (quoted) {
                if (ch == '"') {
                    if (i + 1 < t.length() && t.charAt(i + 1) == '"') {
                        part.append('"');
                        i++;
                    } else {
                        quoted = false;
                    }
                } else {
                    part.append(ch);
                }
            } else if (ch == '"' && part.isEmpty() && !wasQuoted) {
                quoted = true;
                wasQuoted = true;
            } else if (ch == '.') {
                parts.add(part.toString());
                part.setLength(0);
                wasQuoted = false;
            } else if (wasQuoted) {
                throw malformed(text);
            } else {
                part.append(ch);
            }
        }
        if (quoted) throw malformed(text);
        parts.add(part.toString());
        if (parts.size() > 2 || parts.stream().anyMatch(String::isEmpty)) throw malformed(text);
        return parts.size() == 1 ? new TableName(DEFAULT_SCHEMA, parts.get(0)) : new TableName(parts.get(0), parts.get(1));
    }

    private static IllegalArgumentException malformed(String text) {
        return new IllegalArgumentException("Not a table name: '" + text
                + "'; use schema.table or table (schema public), e.g. public.orders; quote a part that holds a dot");
    }

    /** The name quoted for SQL text, {@code "schema"."table"}. */
    public String sql() {
        return Sql.qualified(schema, table);
    }

    @Override
    public String toString() {
        return quoteIfNeeded(schema) + "." + quoteIfNeeded(table);
    }

    private static String quoteIfNeeded(String part) {
        return part.indexOf('.') >= 0 || part.indexOf('"') >= 0 ? '"' + part.replace("\"", "\"\"") + '"' : part;
    }
}
