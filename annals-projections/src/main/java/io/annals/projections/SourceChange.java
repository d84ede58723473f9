package io.annals.projections;

import io.annals.changelog.Operation;
import io.annals.changelog.Position;

import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * One change of a source row, as a {@link RowMapper} sees it: the row's images as column-to-value
 * maps (JSON values: numbers are exact {@code BigDecimal}s or longs, timestamps ISO strings, json
 * columns maps and lists), its key, and the application context it was made in.
 *
 * <p>{@link #after()} is the row as the change left it; verify and rebuild call the mapper with a
 * {@link Operation#SNAPSHOT} of the row's current state, so a mapper should depend on the after
 * image, not on the operation or the context.
 *
 * <pre>{@code
 * BigDecimal amount = (BigDecimal) change.after("amount");
 * String user = change.context("user").orElse("system");
 * }</pre>
 *
 * @param table       the source table, {@code schema.table}
 * @param operation   {@code CREATE}, {@code UPDATE} or {@code SNAPSHOT}
 * @param key         the row's primary key, column to value
 * @param before      the row before the change, or an empty map when the log has none
 * @param after       the row after the change
 * @param context     the application context ({@code user}, {@code endpoint}, ...)
 * @param position    where the change is in the log; null for the current state read by verify or rebuild
 * @param committedAt when it committed; null for the current state
 */
public record SourceChange(String table, Operation operation, Map<String, Object> key, Map<String, Object> before,
                           Map<String, Object> after, Map<String, Object> context, Position position,
                           Instant committedAt) {

    /** The value of {@code column} after the change (null when SQL NULL). */
    public Object after(String column) {
        if (!after.containsKey(column)) {
            throw new IllegalArgumentException("Table " + table + " has no column " + column + " in this change; its columns are "
                    + after.keySet());
        }
        return after.get(column);
    }

    /** A value of the application context, if the change had one. */
    public Optional<String> context(String key) {
        Object v = context.get(key);
        return v == null ? Optional.empty() : Optional.of(String.valueOf(v));
    }
}
