package io.annals.capture;

import java.util.List;

/**
 * Columns whose values are never stored ({@code omit}: the key is left out of every image) or
 * stored masked ({@code mask}: the value becomes {@code "****"}, NULL stays NULL, so the change
 * log still shows <em>that</em> it changed). Patterns are {@code [schema.]table.column} globs,
 * e.g. {@code *.password}, {@code public.users.ssn}.
 *
 * <pre>{@code
 * ColumnPolicy p = ColumnPolicy.of(List.of("*.password"), List.of("*.ssn"));
 * p.treatment("public", "users", "password");   // OMIT
 * }</pre>
 */
public record ColumnPolicy(List<String> omit, List<String> mask) {

    /** What happens to one column's values. */
    public enum Treatment { STORE, OMIT, MASK }

    /** The JSON stored in place of a masked value. */
    public static final String MASKED_JSON = "\"****\"";

    public ColumnPolicy {
        omit = List.copyOf(omit);
        mask = List.copyOf(mask);
        for (String p : omit) validate(p);
        for (String p : mask) validate(p);
    }

    public static ColumnPolicy none() {
        return new ColumnPolicy(List.of(), List.of());
    }

    public static ColumnPolicy of(List<String> omit, List<String> mask) {
        return new ColumnPolicy(omit, mask);
    }

    public Treatment treatment(String schema, String table, String column) {
        if (omit.stream().anyMatch(p -> matches(p, schema, table, column))) return Treatment.OMIT;
        if (mask.stream().anyMatch(p -> matches(p, schema, table, column))) return Treatment.MASK;
        return Treatment.STORE;
    }

    private static boolean matches(String pattern, String schema, String table, String column) {
        String[] parts = pattern.split("\\.", -1);
        return switch (parts.length) {
            case 2 -> TableFilter.glob(parts[0]).matcher(table).matches() && TableFilter.glob(parts[1]).matcher(column).matches();
            case 3 -> TableFilter.glob(parts[0]).matcher(schema).matches() && TableFilter.glob(parts[1]).matcher(table).matches()
                    && TableFilter.glob(parts[2]).matcher(column).matches();
            default -> false;
        };
    }

    private static void validate(String pattern) {
        int dots = pattern == null ? 0 : (int) pattern.chars().filter(c -> c == '.').count();
        if (dots < 1 || dots > 2 || pattern.isBlank()) {
            throw new IllegalArgumentException("Not a column pattern: '" + pattern
                    + "'. Use table.column or schema.table.column, with * as a wildcard, e.g. *.password");
        }
    }
}
