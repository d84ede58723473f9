package io.annals.replication;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Where a replica keeps one {@code cqrs_id}: a local table (which, like a django-cqrs
 * {@code ReplicaMixin} model's, has the columns {@code cqrs_revision} and {@code cqrs_updated}),
 * field renames, and an optional hook run in the apply transaction.
 *
 * <pre>{@code
 * ReplicaTable books = ReplicaTable.builder("book")
 *         .table("library.books")                 // schema.table on PostgreSQL; table (or db.table) on MariaDB
 *         .rename("title", "book_title")          // field → column
 *         .rename("author", "author_id")
 *         .handler((action, message, tx) -> audit(tx, message))
 *         .build();
 * }</pre>
 *
 * @param cqrsId  the {@code cqrs_id} of the messages it receives
 * @param table   the local table, {@code schema.table} or {@code table}
 * @param renames field name → column name, for fields whose column is named otherwise
 * @param handler run after each applied message, in its transaction; or null
 */
public record ReplicaTable(String cqrsId, String table, Map<String, String> renames, ReplicaHandler handler) {

    public ReplicaTable {
        Objects.requireNonNull(cqrsId, "cqrsId");
        Objects.requireNonNull(table, "table");
        renames = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(renames));
    }

    /** The column a field goes to. */
    public String column(String field) {
        return renames.getOrDefault(field, field);
    }

    /** Starts declaring where {@code cqrsId} goes; by default a table of that name. */
    public static Builder builder(String cqrsId) {
        return new Builder(cqrsId);
    }

    /**
     * Declares a {@link ReplicaTable}.
     *
     * <pre>{@code
     * ReplicaTable.builder("author").table("authors").rename("name", "full_name").build();
     * }</pre>
     */
    public static final class Builder {
        private final String cqrsId;
        private String table;
        private final Map<String, String> renames = new LinkedHashMap<>();
        private ReplicaHandler handler;

        private Builder(String cqrsId) {
            this.cqrsId = Objects.requireNonNull(cqrsId, "cqrsId");
        }

        /** The local table (default: the {@code cqrs_id}). */
        public Builder table(String name) {
            this.table = Objects.requireNonNull(name, "name");
            return this;
        }

        /** The field {@code field} goes to the column {@code column}. */
        public Builder rename(String field, String column) {
            renames.put(Objects.requireNonNull(field, "field"), Objects.requireNonNull(column, "column"));
            return this;
        }

        /** Runs {@code hook} after each message applied to this table, in the same transaction. */
        public Builder handler(ReplicaHandler hook) {
            this.handler = Objects.requireNonNull(hook, "hook");
            return this;
        }

        public ReplicaTable build() {
            return new ReplicaTable(cqrsId, table == null ? cqrsId : table, renames, handler);
        }
    }
}
