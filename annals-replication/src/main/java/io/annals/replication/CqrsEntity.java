package io.annals.replication;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Predicate;

/**
 * What a master replicates under one {@code cqrs_id}: the source table, which columns travel and
 * under which field names, an optional SQL serializer per key (which may join related tables, and is
 * run again when one of them changes), an {@code is_sync} filter and the fields sent as
 * {@code previous_data}. The replica side is declared separately ({@link ReplicaTable}).
 *
 * <pre>{@code
 * CqrsEntity book = CqrsEntity.builder("book")
 *         .table("public.book")
 *         .field("author", "author_id")          // a foreign key travels under its field name
 *         .previousData("title", "author")
 *         .syncIf(row -> !row.path("draft").asBoolean())
 *         .build();
 * }</pre>
 *
 * @param cqrsId        the {@code CQRS_ID} the replicas know it by
 * @param schema        the source table's schema
 * @param table         the source table
 * @param columns       the columns that travel, each to its field name, in order; empty: every column under its own name
 * @param query         a serializer: SQL returning one row for the key bound to its {@code ?} parameters (one per key
 *                      column, in key order), its column labels being the field names; or null
 * @param related       tables whose changes re-send rows: {@code schema.table} → SQL returning the keys to re-send for
 *                      the changed row's key bound to {@code ?}
 * @param syncIf        {@code is_sync}: rows for which it is false are not sent (their revision still counts)
 * @param previousData  fields whose old values travel as {@code previous_data}
 */
public record CqrsEntity(String cqrsId, String schema, String table, Map<String, String> columns, String query,
                         Map<String, String> related, Predicate<ObjectNode> syncIf, List<String> previousData) {

    public CqrsEntity {
        Objects.requireNonNull(cqrsId, "cqrsId");
        Objects.requireNonNull(schema, "schema");
        Objects.requireNonNull(table, "table");
        columns = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(columns));
        related = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(related));
        previousData = List.copyOf(previousData);
        if (syncIf == null) syncIf = row -> true;
    }

    /** {@code schema.table}. */
    public String qualifiedTable() {
        return schema + "." + table;
    }

    /** Starts declaring the entity replicated as {@code cqrsId}. */
    public static Builder builder(String cqrsId) {
        return new Builder(cqrsId);
    }

    /**
     * A filter from a JSON object, for entities declared in a file: a row is sent when each of the
     * object's fields is equal to the row's.
     *
     * <pre>{@code
     * CqrsEntity.containing(Json.mapper().readTree("{\"active\": true}"));
     * }</pre>
     */
    public static Predicate<ObjectNode> containing(JsonNode object) {
        if (object == null || !object.isObject()) {
            throw new IllegalArgumentException("An is_sync filter is a JSON object of field values, e.g. {\"active\": true}; got " + object);
        }
        return row -> {
            for (var it = object.properties().iterator(); it.hasNext(); ) {
                var e = it.next();
                if (!e.getValue().equals(row.get(e.getKey()))) return false;
            }
            return true;
        };
    }

    /**
     * Declares a {@link CqrsEntity}.
     *
     * <pre>{@code
     * CqrsEntity author = CqrsEntity.builder("author").table("public.author").build();
     * }</pre>
     */
    public static final class Builder {
        private final String cqrsId;
        private String schema;
        private String table;
        private final Map<String, String> columns = new LinkedHashMap<>();
        private String query;
        private final Map<String, String> related = new LinkedHashMap<>();
        private Predicate<ObjectNode> syncIf;
        private final Set<String> previousData = new LinkedHashSet<>();

        private Builder(String cqrsId) {
            if (cqrsId == null || !cqrsId.matches("[A-Za-z0-9_.\\-]{1,200}")) {
                throw new IllegalArgumentException("A cqrs_id is 1 to 200 letters, digits, '_', '.' or '-', e.g. \"author\"; got "
                        + (cqrsId == null ? "none" : "'" + cqrsId + "'"));
            }
            this.cqrsId = cqrsId;
        }

        /** The source table: {@code schema.table}, or {@code table} for schema public (required). */
        public Builder table(String qualifiedName) {
            String[] parts = split(qualifiedName);
            this.schema = parts[0];
            this.table = parts[1];
            return this;
        }

        /** These columns travel, each under its own name, in this order (default: every column). */
        public Builder fields(String... names) {
            for (String n : names) columns.put(Objects.requireNonNull(n, "field"), n);
            return this;
        }

        /** The column {@code column} travels as the field {@code name} (a foreign key {@code author_id} as {@code author}). */
        public Builder field(String name, String column) {
            columns.put(Objects.requireNonNull(column, "column"), Objects.requireNonNull(name, "name"));
            return this;
        }

        /**
         * A serializer: {@code sql} returns the row to send for the key bound to its {@code ?}
         * parameters, its column labels being the field names; it may join related tables.
         */
        public Builder query(String sql) {
            this.query = Objects.requireNonNull(sql, "sql");
            return this;
        }

        /**
         * When a row of {@code qualifiedTable} changes, re-send the rows whose keys {@code keysSql}
         * returns for that row's key (bound to {@code ?}), e.g.
         * {@code related("public.author", "SELECT id FROM public.book WHERE author_id = ?")}.
         */
        public Builder related(String qualifiedTable, String keysSql) {
            String[] parts = split(qualifiedTable);
            related.put(parts[0] + "." + parts[1], Objects.requireNonNull(keysSql, "keysSql"));
            return this;
        }

        /** {@code is_sync}: only rows for which it holds are sent. */
        public Builder syncIf(Predicate<ObjectNode> filter) {
            this.syncIf = Objects.requireNonNull(filter, "filter");
            return this;
        }

        /** Fields whose old values travel as {@code previous_data} (as django-cqrs' tracked fields). */
        public Builder previousData(String... fields) {
            previousData.addAll(List.of(fields));
            return this;
        }

        /** The declaration. */
        public CqrsEntity build() {
            if (table == null) throw new IllegalStateException("Entity " + cqrsId + " needs its source table: .table(\"public.x\")");
            if (!related.isEmpty() && query == null) {
                throw new IllegalStateException("Entity " + cqrsId + " re-sends rows when a related table changes, which only"
                        + " makes sense with a serializer that joins it: add .query(\"SELECT ... WHERE id = ?\")");
            }
            return new CqrsEntity(cqrsId, schema, table, columns, query, related, syncIf, new ArrayList<>(previousData));
        }

        private static String[] split(String qualifiedName) {
            Objects.requireNonNull(qualifiedName, "table");
            int dot = qualifiedName.indexOf('.');
            String[] name = dot < 0 ? new String[]{"public", qualifiedName}
                    : new String[]{qualifiedName.substring(0, dot), qualifiedName.substring(dot + 1)};
            if (name[0].isBlank() || name[1].isBlank()) {
                throw new IllegalArgumentException("Not a table name: '" + qualifiedName + "'; use schema.table, e.g. public.book");
            }
            return name;
        }
    }
}
