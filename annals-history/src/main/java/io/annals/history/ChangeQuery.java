package io.annals.history;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A query over the change log: an immutable description that each method narrows into a new
 * query, run by {@link #list()}, {@link #stream()} or {@link #page(int)}.
 *
 * <p>Filters combine with AND. Changes come in {@link Position} order, ascending unless
 * {@link #descending()}. Pages continue by keyset (the last position seen), never by OFFSET, so
 * each page costs the same however deep it is. All values are bind parameters; table and column
 * names are compared as values and never become SQL.
 *
 * <pre>{@code
 * ChangeQuery paidOrders = trail.changes()
 *         .table("orders")                                   // public.orders
 *         .operations(Operation.UPDATE)
 *         .changedColumn("status")
 *         .where(Image.AFTER, "status", "=", "paid")
 *         .contextContains(Map.of("user_id", 42));
 *
 * Page<Change> page = paidOrders.page(50);
 * while (true) {
 *     page.items().forEach(System.out::println);
 *     if (page.next().isEmpty()) break;
 *     page = page.next().get().page(50);
 * }
 * }</pre>
 */
public final class ChangeQuery {

    /** Rows a {@link #stream()} fetches per round trip unless {@link #fetchSize(int)} says otherwise. */
    public static final int DEFAULT_FETCH_SIZE = 500;

    private static final Set<String> OPERATORS = Set.of("=", "<>", "<", "<=", ">", ">=");

    private final AuditTrail trail;
    final Spec spec;

    ChangeQuery(AuditTrail trail, Spec spec) {
        this.trail = trail;
        this.spec = spec;
    }

    // ---------------------------------------------------------------- filters

    /**
     * Only changes of {@code table}: {@code schema.table}, or a bare name for schema {@code public}.
     * Replaces any earlier table filter. When the query runs, a table that is neither in the change
     * log nor in the database's catalog is an error that names it.
     */
    public ChangeQuery table(String table) {
        return tables(List.of(table));
    }

    /** Only changes of any of {@code tables} (see {@link #table(String)}). */
    public ChangeQuery tables(String... tables) {
        return tables(Arrays.asList(tables));
    }

    /** Only changes of any of {@code tables} (see {@link #table(String)}). */
    public ChangeQuery tables(Collection<String> tables) {
        if (tables.isEmpty()) throw new IllegalArgumentException("tables(...) needs at least one table");
        List<TableName> names = tables.stream().map(TableName::parse).distinct().toList();
        return with(b -> b.tables = names);
    }

    /**
     * Only changes of the row whose primary key is {@code primaryKey}, e.g. {@code Map.of("id", 7)}
     * (all key columns, compared as JSON: {@code 7} matches an integer key 7). With a single
     * {@link #table(String) table} this is served by the per-row index.
     */
    public ChangeQuery primaryKey(Map<String, ?> primaryKey) {
        if (primaryKey == null || primaryKey.isEmpty()) {
            throw new IllegalArgumentException("A primary key needs at least one column, e.g. Map.of(\"id\", 7)");
        }
        String json = trail.toJson(primaryKey, "the primary key");
        return with(b -> b.primaryKey = json);
    }

    /** Only changes that did one of {@code operations}. */
    public ChangeQuery operations(Operation... operations) {
        if (operations.length == 0) throw new IllegalArgumentException("operations(...) needs at least one operation");
        EnumSet<Operation> set = EnumSet.noneOf(Operation.class);
        for (Operation o : operations) set.add(Objects.requireNonNull(o, "operation"));
        List<Operation> list = List.copyOf(set);
        return with(b -> b.operations = list);
    }

    /** Only changes committed at or after {@code from} and before {@code to}. */
    public ChangeQuery between(Instant from, Instant to) {
        Objects.requireNonNull(from, "from");
        Objects.requireNonNull(to, "to");
        if (from.isAfter(to)) {
            throw new IllegalArgumentException("The time range is empty: from " + from + " is after to " + to);
        }
        return since(from).until(to);
    }

    /** Only changes committed at or after {@code from}. */
    public ChangeQuery since(Instant from) {
        Objects.requireNonNull(from, "from");
        return with(b -> b.since = from);
    }

    /** Only changes committed before {@code to}. */
    public ChangeQuery until(Instant to) {
        Objects.requireNonNull(to, "to");
        return with(b -> b.until = to);
    }

    /** Only changes after {@code position} (exclusive). */
    public ChangeQuery after(Position position) {
        Objects.requireNonNull(position, "position");
        return with(b -> b.after = position);
    }

    /** Only changes before {@code position} (exclusive). */
    public ChangeQuery before(Position position) {
        Objects.requireNonNull(position, "position");
        return with(b -> b.before = position);
    }

    /** Only changes made by source transaction {@code transactionId}. */
    public ChangeQuery transaction(long transactionId) {
        return with(b -> b.transaction = transactionId);
    }

    /**
     * Only changes whose context contains {@code context} (JSON containment, {@code @>}):
     * {@code contextContains(Map.of("user_id", 42))} matches {@code {"user_id": 42, "endpoint": "/todo"}}.
     * Several calls must all hold.
     */
    public ChangeQuery contextContains(Map<String, ?> context) {
        if (context == null || context.isEmpty()) {
            throw new IllegalArgumentException("contextContains(...) needs at least one entry, e.g. Map.of(\"user_id\", 42)");
        }
        String json = trail.toJson(context, "the context");
        return with(b -> b.contexts = append(b.contexts, json));
    }

    /** Only changes that changed {@code column}. Several calls must all hold. */
    public ChangeQuery changedColumn(String column) {
        requireColumn(column);
        return with(b -> b.changedColumns = append(b.changedColumns, column));
    }

    /**
     * Only changes whose {@code image} holds {@code column} in relation {@code operator} to
     * {@code value}: {@code where(Image.AFTER, "status", "=", "paid")},
     * {@code where(Image.BEFORE, "amount", ">=", 100)}. Several calls must all hold.
     *
     * <p>Values are compared as JSON, as the images store them: {@code value} is written with the
     * trail's mapper and bound as {@code jsonb}. {@code =} and {@code <>} take any JSON value
     * ({@code null} matches a SQL NULL column). The ordering operators {@code <, <=, >, >=} take a
     * number, string or boolean and match only columns of that same JSON type: numbers compare
     * numerically, strings in the database's collation (ISO timestamps of one offset compare in
     * time order). A row whose image lacks the column never matches.
     *
     * @param operator one of {@code =, <>, <, <=, >, >=}
     */
    public ChangeQuery where(Image image, String column, String operator, Object value) {
        Objects.requireNonNull(image, "image");
        requireColumn(column);
        if (operator == null || !OPERATORS.contains(operator.trim())) {
            throw new IllegalArgumentException("Unsupported operator '" + operator + "' in where(" + image + ", \""
                    + column + "\", ...); use one of =, <>, <, <=, >, >=");
        }
        String op = operator.trim();
        JsonNode json = trail.toTree(value, "the value compared with " + column);
        String type = null;
        if (!op.equals("=") && !op.equals("<>")) {
            if (json.isNumber()) type = "number";
            else if (json.isTextual()) type = "string";
            else if (json.isBoolean()) type = "boolean";
            else {
                throw new IllegalArgumentException("Operator " + op + " compares numbers, strings or booleans, not "
                        + json.getNodeType().name().toLowerCase(java.util.Locale.ROOT) + " (" + json + "); use = or <>");
            }
        }
        ValuePredicate p = new ValuePredicate(image, column, op, json.toString(), type);
        return with(b -> b.predicates = append(b.predicates, p));
    }

    // ---------------------------------------------------------------- order, size

    /** Oldest change first (the default). */
    public ChangeQuery ascending() {
        return with(b -> b.descending = false);
    }

    /** Newest change first. */
    public ChangeQuery descending() {
        return with(b -> b.descending = true);
    }

    /** At most {@code maxChanges} changes in all (across pages, for {@link #page(int)}). */
    public ChangeQuery limit(long maxChanges) {
        if (maxChanges < 1) throw new IllegalArgumentException("limit must be at least 1, not " + maxChanges);
        return with(b -> b.limit = maxChanges);
    }

    /** Rows a {@link #stream()} fetches per round trip (default {@value #DEFAULT_FETCH_SIZE}). */
    public ChangeQuery fetchSize(int rows) {
        if (rows < 1) throw new IllegalArgumentException("fetchSize must be at least 1, not " + rows);
        return with(b -> b.fetchSize = rows);
    }

    /**
     * This query, continuing after {@code cursor} (a {@link Page#cursor()}) in this query's order:
     * the changes after it when ascending, before it when descending.
     */
    public ChangeQuery continueAfter(String cursor) {
        Position p;
        try {
            p = Position.parse(cursor);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Not a page cursor: '" + cursor + "'; use the cursor() of a Page", e);
        }
        return continueAfter(p);
    }

    /** This query, continuing after {@code position} in this query's order. */
    public ChangeQuery continueAfter(Position position) {
        return spec.descending ? before(position) : after(position);
    }

    // ---------------------------------------------------------------- execution

    /** Runs the query and returns every matching change. Mind the size: see {@link #page(int)} and {@link #stream()}. */
    public List<Change> list() {
        return run(spec);
    }

    /**
     * Runs the query and streams its changes from a server-side cursor, {@link #fetchSize(int)}
     * rows at a time, so that memory stays flat however many match. The stream holds a
     * connection and a transaction until it is closed: use try-with-resources.
     *
     * <pre>{@code
     * try (Stream<Change> changes = trail.changes().table("orders").stream()) {
     *     changes.forEach(System.out::println);
     * }
     * }</pre>
     */
    public Stream<Change> stream() {
        Connection c = trail.connect();
        Resources resources = new Resources(c);
        try {
            resources.autoCommit = c.getAutoCommit();
            c.setAutoCommit(false); // a server-side cursor lives in a transaction
            trail.checkTables(c, spec.tables);
            Sql sql = compile(spec);
            resources.statement = c.prepareStatement(sql.text(), ResultSet.TYPE_FORWARD_ONLY, ResultSet.CONCUR_READ_ONLY);
            resources.statement.setFetchSize(spec.fetchSize);
            sql.bind(resources.statement);
            resources.rows = resources.statement.executeQuery();
        } catch (SQLException e) {
            resources.close();
            throw AuditTrail.failure("query the change log", e);
        } catch (RuntimeException e) {
            resources.close();
            throw e;
        }
        return resources.stream(trail::readChange, "read the change log");
    }

    /**
     * Runs the query for its first {@code size} changes. {@link Page#next()} is the same query
     * continuing after the last of them (keyset pagination), if there are more.
     */
    public Page<Change> page(int size) {
        if (size < 1) throw new IllegalArgumentException("A page holds at least 1 change, not " + size);
        boolean lastPage = spec.limit != null && spec.limit <= size;
        long want = lastPage ? spec.limit : size;
        List<Change> rows = run(spec.with(b -> b.limit = lastPage ? want : want + 1));
        if (lastPage || rows.size() <= want) return new Page<>(rows, null, null);
        List<Change> items = List.copyOf(rows.subList(0, (int) want));
        Position last = items.get(items.size() - 1).position();
        ChangeQuery next = continueAfter(last);
        if (spec.limit != null) next = next.limit(spec.limit - want);
        return new Page<>(items, next, last.toString());
    }

    /** The plan PostgreSQL chooses for this query ({@code EXPLAIN}), one line per element. */
    List<String> explain() {
        try (Connection c = trail.connect()) {
            Sql sql = compile(spec);
            try (PreparedStatement ps = c.prepareStatement("EXPLAIN " + sql.text())) {
                sql.bind(ps);
                List<String> plan = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) plan.add(rs.getString(1));
                }
                return plan;
            }
        } catch (SQLException e) {
            throw AuditTrail.failure("explain the query", e);
        }
    }

    private List<Change> run(Spec s) {
        try (Connection c = trail.connect()) {
            trail.checkTables(c, s.tables);
            Sql sql = compile(s);
            try (PreparedStatement ps = c.prepareStatement(sql.text())) {
                sql.bind(ps);
                List<Change> out = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) out.add(trail.readChange(rs));
                }
                return List.copyOf(out);
            }
        } catch (SQLException e) {
            throw AuditTrail.failure("query the change log", e);
        }
    }

    // ---------------------------------------------------------------- SQL

    /** The SQL text and its parameters. Only constants are appended to the text. */
    static final class Sql {
        final StringBuilder text = new StringBuilder();
        final List<Object> params = new ArrayList<>();

        String text() {
            return text.toString();
        }

        void bind(PreparedStatement ps) throws SQLException {
            for (int i = 0; i < params.size(); i++) {
                Object p = params.get(i);
                if (p instanceof String s) ps.setString(i + 1, s);
                else if (p instanceof Long l) ps.setLong(i + 1, l);
                else ps.setObject(i + 1, p);
            }
        }
    }

    static Sql compile(Spec s) {
        Sql sql = new Sql();
        sql.text.append("SELECT ").append(AuditTrail.columns("changes")).append(" FROM annals.changes");
        List<String> conditions = conditions(s, sql.params);
        if (!conditions.isEmpty()) sql.text.append(" WHERE ").append(String.join(" AND ", conditions));
        sql.text.append(" ORDER BY position ").append(s.descending ? "DESC" : "ASC");
        if (s.limit != null) {
            sql.text.append(" LIMIT ?");
            sql.params.add(s.limit);
        }
        return sql;
    }

    /**
     * The filters of {@code s} as SQL conditions over a row of {@code annals.changes} reached as
     * {@code changes} (the table's own name, when it has no alias), appending their parameters to
     * {@code params} in order.
     */
    static List<String> conditions(Spec s, List<Object> params) {
        return conditions(s, params, "changes");
    }

    /** The filters of {@code s} as SQL conditions over the row of {@code annals.changes} aliased {@code alias}. */
    static List<String> conditions(Spec s, List<Object> params, String alias) {
        String a = alias + ".";
        Sql sql = new Sql();
        List<String> conditions = new ArrayList<>();
        if (!s.tables.isEmpty()) {
            if (s.tables.size() == 1) {
                conditions.add(a + "\"schema\" = ? AND " + a + "\"table\" = ?");
            } else {
                conditions.add("(" + a + "\"schema\", " + a + "\"table\") IN (" + String.join(", ",
                        java.util.Collections.nCopies(s.tables.size(), "(?, ?)")) + ")");
            }
            for (TableName t : s.tables) {
                sql.params.add(t.schema());
                sql.params.add(t.table());
            }
        }
        if (s.primaryKey != null) {
            conditions.add(a + "primary_key = ?::jsonb");
            sql.params.add(s.primaryKey);
        }
        if (!s.operations.isEmpty()) {
            conditions.add(a + "operation IN (" + String.join(", ", java.util.Collections.nCopies(s.operations.size(), "?")) + ")");
            for (Operation o : s.operations) sql.params.add(o.name());
        }
        if (s.since != null) {
            conditions.add(a + "committed_at >= ?");
            sql.params.add(OffsetDateTime.ofInstant(s.since, ZoneOffset.UTC));
        }
        if (s.until != null) {
            conditions.add(a + "committed_at < ?");
            sql.params.add(OffsetDateTime.ofInstant(s.until, ZoneOffset.UTC));
        }
        if (s.after != null) {
            conditions.add(a + "position > ?");
            sql.params.add(s.after.toString());
        }
        if (s.before != null) {
            conditions.add(a + "position < ?");
            sql.params.add(s.before.toString());
        }
        if (s.transaction != null) {
            conditions.add(a + "transaction_id = ?");
            sql.params.add(s.transaction);
        }
        for (String context : s.contexts) {
            conditions.add(a + "context @> ?::jsonb");
            sql.params.add(context);
        }
        if (!s.changedColumns.isEmpty()) {
            conditions.add(a + "changed_columns @> ?::text[]");
            sql.params.add(textArray(s.changedColumns));
        }
        for (ValuePredicate p : s.predicates) {
            String value = (p.image == Image.BEFORE ? beforeImage(alias) : a + "after") + " -> ?::text";
            if (p.jsonType == null) {
                conditions.add("(" + value + ") " + p.operator + " ?::jsonb");
                sql.params.add(p.column);
            } else {
                conditions.add("jsonb_typeof(" + value + ") = ? AND (" + value + ") " + p.operator + " ?::jsonb");
                sql.params.add(p.column);
                sql.params.add(p.jsonType);
                sql.params.add(p.column);
            }
            sql.params.add(p.json);
        }
        params.addAll(sql.params);
        return conditions;
    }

    /**
     * The row's before image, completed where the change log stored only its key (an UPDATE or
     * DELETE of a table with REPLICA IDENTITY DEFAULT): the row's previous image in the log,
     * overlaid with the stored key, which is exactly the row before the change. One probe of the
     * per-row index, and only for such changes; a row whose previous image is not in the log keeps
     * its key-only image.
     */
    static String beforeImage(String alias) {
        String a = alias + ".";
        return "(CASE WHEN " + a + "operation IN ('UPDATE', 'DELETE') AND " + a + "before IS NOT NULL"
                + " AND (SELECT count(*) FROM jsonb_object_keys(" + a + "before))"
                + " <= (SELECT count(*) FROM jsonb_object_keys(" + a + "primary_key))"
                + " THEN COALESCE((SELECT prev.after FROM annals.changes prev WHERE prev.\"schema\" = " + a + "\"schema\""
                + " AND prev.\"table\" = " + a + "\"table\" AND prev.primary_key = (SELECT jsonb_object_agg(k, " + a
                + "before -> k) FROM jsonb_object_keys(" + a + "primary_key) k) AND prev.position < " + a + "position"
                + " ORDER BY prev.position DESC LIMIT 1) || " + a + "before, " + a + "before)"
                + " ELSE " + a + "before END)";
    }

    /** A PostgreSQL array literal of {@code values}, every element quoted and escaped. */
    static String textArray(List<String> values) {
        StringBuilder out = new StringBuilder("{");
        for (int i = 0; i < values.size(); i++) {
            if (i > 0) out.append(',');
            out.append('"').append(values.get(i).replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
        }
        return out.append('}').toString();
    }

    // ---------------------------------------------------------------- state

    private ChangeQuery with(Consumer<Spec.Builder> change) {
        return new ChangeQuery(trail, spec.with(change));
    }

    private static void requireColumn(String column) {
        if (column == null || column.isEmpty()) throw new IllegalArgumentException("A column name is required");
    }

    private static <T> List<T> append(List<T> list, T element) {
        List<T> out = new ArrayList<>(list);
        out.add(element);
        return List.copyOf(out);
    }

    record ValuePredicate(Image image, String column, String operator, String json, String jsonType) {
    }

    /** Everything a query says, immutable. */
    record Spec(List<TableName> tables, String primaryKey, List<Operation> operations, Instant since, Instant until,
                Position after, Position before, Long transaction, List<String> contexts, List<String> changedColumns,
                List<ValuePredicate> predicates, boolean descending, Long limit, int fetchSize) {

        static final Spec EVERYTHING = new Spec(List.of(), null, List.of(), null, null, null, null, null, List.of(),
                List.of(), List.of(), false, null, DEFAULT_FETCH_SIZE);

        Spec with(Consumer<Builder> change) {
            Builder b = new Builder(this);
            change.accept(b);
            return b.build();
        }

        static final class Builder {
            List<TableName> tables;
            String primaryKey;
            List<Operation> operations;
            Instant since;
            Instant until;
            Position after;
            Position before;
            Long transaction;
            List<String> contexts;
            List<String> changedColumns;
            List<ValuePredicate> predicates;
            boolean descending;
            Long limit;
            int fetchSize;

            Builder(Spec s) {
                tables = s.tables;
                primaryKey = s.primaryKey;
                operations = s.operations;
                since = s.since;
                until = s.until;
                after = s.after;
                before = s.before;
                transaction = s.transaction;
                contexts = s.contexts;
                changedColumns = s.changedColumns;
                predicates = s.predicates;
                descending = s.descending;
                limit = s.limit;
                fetchSize = s.fetchSize;
            }

            Spec build() {
                return new Spec(tables, primaryKey, operations, since, until, after, before, transaction, contexts,
                        changedColumns, predicates, descending, limit, fetchSize);
            }
        }
    }

    /** What a stream holds open, closed once. */
    static final class Resources {
        final Connection connection;
        PreparedStatement statement;
        ResultSet rows;
        Boolean autoCommit;
        volatile boolean closed;

        Resources(Connection connection) {
            this.connection = connection;
        }

        /** A row of the open result set, read into a value. */
        @FunctionalInterface
        interface RowReader<T> {
            T read(ResultSet rows) throws SQLException;
        }

        /**
         * The open result set as a lazy stream; closing the stream closes the cursor and gives the
         * connection back. {@code what} names the read in error messages.
         */
        <T> Stream<T> stream(RowReader<T> reader, String what) {
            Spliterator<T> spliterator = new Spliterators.AbstractSpliterator<>(Long.MAX_VALUE,
                    Spliterator.ORDERED | Spliterator.NONNULL | Spliterator.IMMUTABLE) {
                @Override
                public boolean tryAdvance(Consumer<? super T> action) {
                    T next;
                    try {
                        if (closed || !rows.next()) return false;
                        next = reader.read(rows);
                    } catch (SQLException e) {
                        throw AuditTrail.failure(what, e);
                    }
                    action.accept(next);
                    return true;
                }
            };
            return StreamSupport.stream(spliterator, false).onClose(this::close);
        }

        synchronized void close() {
            if (closed) return;
            closed = true;
            try (Connection c = connection) {
                try {
                    if (rows != null) rows.close();
                    if (statement != null) statement.close();
                } finally {
                    if (autoCommit != null) {
                        c.rollback();
                        c.setAutoCommit(autoCommit);
                    }
                }
            } catch (SQLException e) {
                throw new HistoryException("Could not close the change log stream: " + e.getMessage(), e);
            }
        }
    }

    @Override
    public String toString() {
        return "ChangeQuery" + spec;
    }
}
