package io.annals.changelog;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * One row change on its way into {@code annals.changes}. The JSON fields are already-rendered JSON
 * text (the capture worker builds them without an object tree, for speed); {@code null} means SQL
 * NULL.
 *
 * <p>{@code withheld} names the columns whose values the images do not hold because the column
 * policy withheld them: masked ones (the images hold the placeholder {@code "****"}) and omitted
 * ones (absent); {@code null} or empty when none. It lets readers tell a placeholder from a value,
 * so that nothing ever writes one back.
 *
 * <pre>{@code
 * new ChangeRow(Position.of(lsn, 0), 742, Instant.now(), "app", "public", "todo", Operation.CREATE,
 *         "{\"id\":1}", null, "{\"id\":1,\"title\":\"a\"}", List.of(), "{}");
 * }</pre>
 */
public record ChangeRow(
        Position position,
        long transactionId,
        Instant committedAt,
        String database,
        String schema,
        String table,
        Operation operation,
        String primaryKey,
        String before,
        String after,
        List<String> changedColumns,
        String context,
        List<String> withheld) {

    /** A change with nothing withheld. */
    public ChangeRow(Position position, long transactionId, Instant committedAt, String database, String schema,
                     String table, Operation operation, String primaryKey, String before, String after,
                     List<String> changedColumns, String context) {
        this(position, transactionId, committedAt, database, schema, table, operation, primaryKey, before, after,
                changedColumns, context, null);
    }

    public ChangeRow {
        Objects.requireNonNull(position, "position");
        Objects.requireNonNull(committedAt, "committedAt");
        Objects.requireNonNull(schema, "schema");
        Objects.requireNonNull(table, "table");
        Objects.requireNonNull(operation, "operation");
        if (context == null) context = "{}";
        if (withheld != null) withheld = withheld.isEmpty() ? null : List.copyOf(withheld);
    }
}
