package io.annals.projections;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * What a read model is made of: one read table (or computed columns of a table), the canonical
 * source tables it is derived from, and how. An immutable definition; {@link Projections} runs
 * it, verifies it, repairs and rebuilds it.
 *
 * <p>Every row of a read table carries its parent: {@code canonical_type} (the source's name,
 * by default its table name) and {@code canonical_pk} (the source row's key: {@code jsonb} for
 * any key shape, or {@code text} for one-column keys). When a source row changes, the read rows
 * of its key are replaced, in one transaction with the projection's checkpoint.
 *
 * <p>Two ways to map, mixable per source:
 * <ul>
 *   <li>{@link Builder#from(String, RowMapper) Java}: a pure function from the changed row to its
 *       read rows.</li>
 *   <li>{@link Builder#fromQuery(String, String) SQL}: a query over the source database that
 *       derives the read rows of a set of canonical keys from its current state. It receives the
 *       keys as {@code :ids} (a {@code text[]} of one-column key values; cast it, e.g.
 *       {@code i.id = ANY(:ids::bigint[])}) or {@code :keys} (a {@code jsonb} array of key
 *       objects), and returns a {@code canonical_pk} column (the key value, or its object) and a
 *       column per read-table column. It may join other tables: declare them with
 *       {@link Builder#dependsOn(String, String)} so their changes re-derive the keys they
 *       affect.</li>
 * </ul>
 *
 * <pre>{@code
 * Projection journal = Projection.named("journal_entry")
 *         .into("public.journal_entry")
 *         .fromQuery("public.invoice", """
 *                 SELECT i.id AS canonical_pk, i.business_id AS business_pk, c.name AS customer, i.total_amount AS amount
 *                 FROM invoice i JOIN customer c ON c.id = i.customer_id
 *                 WHERE i.id = ANY(:ids::bigint[])""")
 *         .dependsOn("public.customer", "SELECT id FROM invoice WHERE customer_id = ANY(:ids::bigint[])")
 *         .build();
 *
 * Projection total = Projection.named("invoice_total")
 *         .intoColumns("public.invoice", "total_amount")
 *         .fromQuery("public.invoice", """
 *                 SELECT i.id AS canonical_pk, coalesce(sum(it.amount), 0) AS total_amount
 *                 FROM invoice i LEFT JOIN invoice_item it ON it.invoice_id = i.id
 *                 WHERE i.id = ANY(:ids::bigint[]) GROUP BY i.id""")
 *         .dependsOnColumn("public.invoice_item", "invoice_id")
 *         .build();
 * }</pre>
 */
public final class Projection {

    /** A projection's name: its checkpoint's key, and the value of {@code annals.projection} in its writes' context. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.\\-]{1,100}");

    /** Where the rows go. */
    sealed interface Target permits ReadTable, Columns {
        TableRef table();
    }

    /** A read table with canonical columns. */
    record ReadTable(TableRef table, String shardColumn) implements Target {
    }

    /** Computed columns of the canonical table's own rows. */
    record Columns(TableRef table, List<String> columns) implements Target {
    }

    /** A canonical source: its changes replace the read rows of their key. Exactly one of mapper and query. */
    record Source(TableRef table, String canonicalType, RowMapper mapper, String query) {
        boolean isSql() {
            return query != null;
        }
    }

    /** Streams of the event store, folded into read rows per stream (only those of {@code streamType}, if set). */
    record EventSource(String canonicalType, String streamType, EventMapper mapper) {
    }

    /**
     * A table that feeds a SQL mapping without being canonical: a change of it re-derives the
     * canonical keys named by {@code keyColumn} in its images, or returned by {@code query}.
     */
    record Dependency(TableRef table, TableRef canonical, String keyColumn, String query) {
    }

    private final String name;
    private final Target target;
    private final List<Source> sources;
    private final List<Dependency> dependencies;
    private final List<EventSource> eventSources;
    private final FailurePolicy policy;
    private final Map<TableRef, Map<String, String>> writeBack;

    private Projection(Builder b) {
        this.name = b.name;
        this.target = b.target;
        this.sources = List.copyOf(b.sources);
        this.dependencies = List.copyOf(b.dependencies);
        this.eventSources = List.copyOf(b.eventSources);
        this.policy = b.policy;
        Map<TableRef, Map<String, String>> wb = new LinkedHashMap<>();
        b.writeBack.forEach((k, v) -> wb.put(k, Map.copyOf(v)));
        this.writeBack = Map.copyOf(wb);
    }

    /** Starts a definition; {@code name} is the projection's identity (letters, digits, {@code _ . -}). */
    public static Builder named(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new ProjectionException("A projection needs a name of 1 to 100 letters, digits, '_', '.' or '-',"
                    + " e.g. \"financial_transaction\"; got " + (name == null ? "none" : "'" + name + "'"));
        }
        return new Builder(name);
    }

    /** The projection's name. */
    public String name() {
        return name;
    }

    /** The table it writes: the read table, or the table whose columns it computes ({@code schema.table}). */
    public String table() {
        return target.table().toString();
    }

    /** The canonical source tables ({@code schema.table}). */
    public List<String> sourceTables() {
        return sources.stream().map(s -> s.table().toString()).toList();
    }

    /** What it does when its mapping fails. */
    public FailurePolicy failurePolicy() {
        return policy;
    }

    /** The name of the feed it reads the change log with. */
    String feedName() {
        return "projection:" + name;
    }

    Target target() {
        return target;
    }

    List<Source> sources() {
        return sources;
    }

    List<Dependency> dependencies() {
        return dependencies;
    }

    List<EventSource> eventSources() {
        return eventSources;
    }

    /** The name of the event store subscription its event sources are read with. */
    String subscriptionName() {
        return "projection:" + name;
    }

    Map<TableRef, Map<String, String>> writeBack() {
        return writeBack;
    }

    boolean hasSqlSource() {
        return sources.stream().anyMatch(Source::isSql);
    }

    @Override
    public String toString() {
        return "projection " + name + " (" + target.table() + ")";
    }

    /**
     * Builds a {@link Projection}. Say where the rows go ({@link #into} or {@link #intoColumns}),
     * then each canonical source ({@link #from} or {@link #fromQuery}) and, for SQL mappings that
     * join, what else feeds them ({@link #dependsOn}).
     *
     * <pre>{@code
     * Projection.named("financial_transaction").into("public.financial_transaction")
     *         .from("public.income", incomeRows).from("public.expense", expenseRows).build();
     * }</pre>
     */
    public static final class Builder {
        private final String name;
        private Target target;
        private final List<Source> sources = new ArrayList<>();
        private final List<Dependency> dependencies = new ArrayList<>();
        private final List<EventSource> eventSources = new ArrayList<>();
        private FailurePolicy policy = FailurePolicy.HALT;
        private final Map<TableRef, Map<String, String>> writeBack = new LinkedHashMap<>();

        private Builder(String name) {
            this.name = name;
        }

        /**
         * The read table, which must have the columns {@code canonical_type text} and
         * {@code canonical_pk jsonb} (or {@code text}), indexed together, and a column for each
         * value the mapping writes.
         */
        public Builder into(String readTable) {
            return into(readTable, null);
        }

        /** The read table, with a shard key column (such as {@code business_pk}) that verify can filter by. */
        public Builder into(String readTable, String shardColumn) {
            requireNoTarget();
            this.target = new ReadTable(TableRef.parse(readTable, "Projection " + name + "'s read table"), shardColumn);
            return this;
        }

        /**
         * Computed fields: the SQL mapping's columns are written into these columns of
         * {@code table}'s own rows (its only canonical source). The projector's own writes are
         * marked in their context and never fed back into it.
         */
        public Builder intoColumns(String table, String... columns) {
            requireNoTarget();
            if (columns.length == 0) {
                throw new ProjectionException("Projection " + name + ": intoColumns needs at least one column, e.g."
                        + " intoColumns(\"public.invoice\", \"total_amount\")");
            }
            this.target = new Columns(TableRef.parse(table, "Projection " + name + "'s computed table"), List.of(columns));
            return this;
        }

        /** A canonical source mapped in Java; its canonical type is the table's name. */
        public Builder from(String table, RowMapper mapper) {
            TableRef t = TableRef.parse(table, "Projection " + name + "'s source");
            return from(table, t.name(), mapper);
        }

        /** A canonical source mapped in Java, with its own canonical type (such as {@code Income}). */
        public Builder from(String table, String canonicalType, RowMapper mapper) {
            Objects.requireNonNull(mapper, "mapper");
            addSource(new Source(TableRef.parse(table, "Projection " + name + "'s source"), requireType(canonicalType), mapper, null));
            return this;
        }

        /** A canonical source mapped by a SQL query re-run for its changed keys (see {@link Projection}). */
        public Builder fromQuery(String table, String query) {
            TableRef t = TableRef.parse(table, "Projection " + name + "'s source");
            return fromQuery(table, t.name(), query);
        }

        /** A canonical source mapped by a SQL query, with its own canonical type. */
        public Builder fromQuery(String table, String canonicalType, String query) {
            TableRef t = TableRef.parse(table, "Projection " + name + "'s source");
            if (query == null || !(query.contains(":ids") || query.contains(":keys"))) {
                throw new ProjectionException("Projection " + name + ": the query for " + t + " must select the rows of the"
                        + " canonical keys it is given, as :ids (text[], e.g. WHERE i.id = ANY(:ids::bigint[])) or :keys"
                        + " (a jsonb array of key objects); it uses neither");
            }
            addSource(new Source(t, requireType(canonicalType), null, query));
            return this;
        }

        /**
         * Event-sourced rows: each event of the event store's streams (of {@code streamType}, or
         * of every type when null) is folded into its stream's read rows, whose
         * {@code canonical_type} is {@code canonicalType} and {@code canonical_pk} the stream id.
         * The read table must live in the event store's database: each event's rows commit with
         * the subscription's checkpoint.
         */
        public Builder fromEvents(String canonicalType, String streamType, EventMapper mapper) {
            Objects.requireNonNull(mapper, "mapper");
            String type = requireType(canonicalType);
            if (sources.stream().anyMatch(o -> o.canonicalType().equals(type))
                    || eventSources.stream().anyMatch(o -> o.canonicalType().equals(type))) {
                throw new ProjectionException("Projection " + name + ": two sources have canonical type " + type);
            }
            eventSources.add(new EventSource(type, streamType, mapper));
            return this;
        }

        /**
         * A table the SQL mapping joins: its changes re-derive the canonical keys that
         * {@code query} returns (first column) for their own keys, given as {@code :ids} or
         * {@code :keys} like a mapping query. For one SQL source; see
         * {@link #dependsOn(String, String, String)} for several.
         */
        public Builder dependsOn(String table, String query) {
            return dependsOn(table, null, query);
        }

        /** Like {@link #dependsOn(String, String)}, for the SQL source {@code canonicalTable}. */
        public Builder dependsOn(String table, String canonicalTable, String query) {
            TableRef t = TableRef.parse(table, "Projection " + name + "'s dependency");
            if (query == null || !(query.contains(":ids") || query.contains(":keys"))) {
                throw new ProjectionException("Projection " + name + ": the dependency query for " + t + " must use :ids or"
                        + " :keys (the changed rows' keys), e.g. SELECT id FROM invoice WHERE customer_id = ANY(:ids::bigint[])");
            }
            dependencies.add(new Dependency(t, canonicalTable == null ? null : TableRef.parse(canonicalTable, "canonical table"),
                    null, query));
            return this;
        }

        /**
         * A table the SQL mapping joins whose rows name their canonical key in {@code keyColumn}
         * (such as {@code invoice_item.invoice_id}): a change re-derives the keys in its before
         * and after images, so a deleted or moved row updates both parents.
         */
        public Builder dependsOnColumn(String table, String keyColumn) {
            return dependsOnColumn(table, keyColumn, null);
        }

        /** Like {@link #dependsOnColumn(String, String)}, for the SQL source {@code canonicalTable}. */
        public Builder dependsOnColumn(String table, String keyColumn, String canonicalTable) {
            TableRef t = TableRef.parse(table, "Projection " + name + "'s dependency");
            if (keyColumn == null || keyColumn.isBlank()) {
                throw new ProjectionException("Projection " + name + ": dependsOnColumn(" + t + ", ...) needs the column"
                        + " holding the canonical key, e.g. invoice_id");
            }
            dependencies.add(new Dependency(t, canonicalTable == null ? null : TableRef.parse(canonicalTable, "canonical table"),
                    keyColumn, null));
            return this;
        }

        /**
         * Writing back: an edit of read column {@code readColumn} of a row whose canonical source
         * is {@code canonicalTable} is an update of {@code sourceColumn} of the canonical row.
         */
        public Builder writeBack(String canonicalTable, String readColumn, String sourceColumn) {
            TableRef t = TableRef.parse(canonicalTable, "Projection " + name + "'s write-back table");
            writeBack.computeIfAbsent(t, k -> new LinkedHashMap<>()).put(readColumn, sourceColumn);
            return this;
        }

        /** What to do when the mapping fails on a change (default {@link FailurePolicy#HALT}). */
        public Builder onFailure(FailurePolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /** The definition, checked for what can be checked without a database. */
        public Projection build() {
            if (target == null) {
                throw new ProjectionException("Projection " + name + " has no target: call into(\"schema.read_table\") or"
                        + " intoColumns(\"schema.table\", \"column\", ...)");
            }
            if (sources.isEmpty() && eventSources.isEmpty()) {
                throw new ProjectionException("Projection " + name + " has no source: call from(table, mapper),"
                        + " fromQuery(table, sql) or fromEvents(type, streamType, mapper)");
            }
            if (target instanceof Columns && !eventSources.isEmpty()) {
                throw new ProjectionException("Projection " + name + ": computed columns come from SQL mappings, not events");
            }
            if (target instanceof Columns c) {
                if (sources.size() != 1 || !sources.get(0).isSql() || !sources.get(0).table().equals(c.table())) {
                    throw new ProjectionException("Projection " + name + " computes columns of " + c.table() + ": its one"
                            + " source must be fromQuery(\"" + c.table() + "\", sql), the table itself");
                }
            }
            List<Dependency> resolved = new ArrayList<>();
            List<Source> sql = sources.stream().filter(Source::isSql).toList();
            for (Dependency d : dependencies) {
                TableRef canonical = d.canonical();
                if (canonical == null) {
                    if (sql.size() != 1) {
                        throw new ProjectionException("Projection " + name + ": dependency " + d.table() + " must name its"
                                + " canonical table, since the projection has " + sql.size() + " SQL sources");
                    }
                    canonical = sql.get(0).table();
                }
                TableRef c = canonical;
                if (sql.stream().noneMatch(s -> s.table().equals(c))) {
                    throw new ProjectionException("Projection " + name + ": dependency " + d.table() + " feeds " + c
                            + ", which is not one of its fromQuery sources");
                }
                if (sources.stream().anyMatch(s -> s.table().equals(d.table()))) {
                    throw new ProjectionException("Projection " + name + ": " + d.table() + " is both a source and a"
                            + " dependency; a source's changes already re-derive its rows");
                }
                resolved.add(new Dependency(d.table(), canonical, d.keyColumn(), d.query()));
            }
            dependencies.clear();
            dependencies.addAll(resolved);
            for (TableRef t : writeBack.keySet()) {
                if (sources.stream().noneMatch(s -> s.table().equals(t))) {
                    throw new ProjectionException("Projection " + name + ": writeBack names " + t + ", which is not one of"
                            + " its sources " + sources.stream().map(s -> s.table().toString()).toList());
                }
            }
            return new Projection(this);
        }

        private void requireNoTarget() {
            if (target != null) {
                throw new ProjectionException("Projection " + name + " already writes " + target.table()
                        + "; a projection maintains one table");
            }
        }

        private String requireType(String canonicalType) {
            if (canonicalType == null || canonicalType.isBlank()) {
                throw new ProjectionException("Projection " + name + ": a canonical type must not be blank");
            }
            return canonicalType;
        }

        private void addSource(Source s) {
            if (sources.stream().anyMatch(o -> o.table().equals(s.table()))) {
                throw new ProjectionException("Projection " + name + " already has source " + s.table());
            }
            if (sources.stream().anyMatch(o -> o.canonicalType().equals(s.canonicalType()))) {
                throw new ProjectionException("Projection " + name + ": two sources have canonical type " + s.canonicalType()
                        + "; give one another with from(table, canonicalType, ...)");
            }
            sources.add(s);
        }
    }
}
