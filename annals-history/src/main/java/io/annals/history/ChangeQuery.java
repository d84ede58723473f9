package io.annals.history;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.history.internal.ChangeLogReader;
import io.annals.history.internal.Cursor;
import io.annals.history.internal.QuerySpec;
import io.annals.history.internal.QuerySpec.ValuePredicate;
import io.annals.history.internal.TableName;

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
import java.util.function.Consumer;
import java.util.stream.Stream;

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

    private final ChangeLogReader log;
    final QuerySpec spec;

    ChangeQuery(ChangeLogReader log, QuerySpec spec) {
        this.log = log;
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
        String json = log.toJson(primaryKey, "the primary key");
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
        String json = log.toJson(context, "the context");
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
        JsonNode json = log.toTree(value, "the value compared with " + column);
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
        return spec.descending() ? before(position) : after(position);
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
        Connection c = log.connect();
        Cursor cursor = new Cursor(c);
        try {
            cursor.autoCommit = c.getAutoCommit();
            c.setAutoCommit(false); // a server-side cursor lives in a transaction
            log.checkTables(c, spec.tables());
            QuerySpec.SqlText sql = QuerySpec.compile(spec);
            cursor.statement = c.prepareStatement(sql.text(), ResultSet.TYPE_FORWARD_ONLY, ResultSet.CONCUR_READ_ONLY);
            cursor.statement.setFetchSize(spec.fetchSize());
            sql.bind(cursor.statement);
            cursor.rows = cursor.statement.executeQuery();
        } catch (SQLException e) {
            cursor.close();
            throw ChangeLogReader.failure("query the change log", e);
        } catch (RuntimeException e) {
            cursor.close();
            throw e;
        }
        return cursor.stream(log::readChange, "read the change log");
    }

    /**
     * Runs the query for its first {@code size} changes. {@link Page#next()} is the same query
     * continuing after the last of them (keyset pagination), if there are more.
     */
    public Page<Change> page(int size) {
        if (size < 1) throw new IllegalArgumentException("A page holds at least 1 change, not " + size);
        boolean lastPage = spec.limit() != null && spec.limit() <= size;
        long want = lastPage ? spec.limit() : size;
        List<Change> rows = run(spec.with(b -> b.limit = lastPage ? want : want + 1));
        if (lastPage || rows.size() <= want) return new Page<>(rows, null, null);
        List<Change> items = List.copyOf(rows.subList(0, (int) want));
        Position last = items.get(items.size() - 1).position();
        ChangeQuery next = continueAfter(last);
        if (spec.limit() != null) next = next.limit(spec.limit() - want);
        return new Page<>(items, next, last.toString());
    }

    /** The plan PostgreSQL chooses for this query ({@code EXPLAIN}), one line per element. */
    List<String> explain() {
        try (Connection c = log.connect()) {
            QuerySpec.SqlText sql = QuerySpec.compile(spec);
            try (PreparedStatement ps = c.prepareStatement("EXPLAIN " + sql.text())) {
                sql.bind(ps);
                List<String> plan = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) plan.add(rs.getString(1));
                }
                return plan;
            }
        } catch (SQLException e) {
            throw ChangeLogReader.failure("explain the query", e);
        }
    }

    private List<Change> run(QuerySpec s) {
        try (Connection c = log.connect()) {
            log.checkTables(c, s.tables());
            QuerySpec.SqlText sql = QuerySpec.compile(s);
            try (PreparedStatement ps = c.prepareStatement(sql.text())) {
                sql.bind(ps);
                List<Change> out = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) out.add(log.readChange(rs));
                }
                return List.copyOf(out);
            }
        } catch (SQLException e) {
            throw ChangeLogReader.failure("query the change log", e);
        }
    }

    // ---------------------------------------------------------------- state

    private ChangeQuery with(Consumer<QuerySpec.Builder> change) {
        return new ChangeQuery(log, spec.with(change));
    }

    private static void requireColumn(String column) {
        if (column == null || column.isEmpty()) throw new IllegalArgumentException("A column name is required");
    }

    private static <T> List<T> append(List<T> list, T element) {
        List<T> out = new ArrayList<>(list);
        out.add(element);
        return List.copyOf(out);
    }

    @Override
    public String toString() {
        return "ChangeQuery" + spec;
    }
}
