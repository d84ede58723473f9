package io.annals.history.internal;

import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.history.ChangeQuery;
import io.annals.history.Image;

import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Everything a {@link ChangeQuery} says, immutable, and the SQL it compiles to. Kept apart from
 * the query's fluent API because a revert selects its changes with the same conditions (and needs
 * them as SQL over other aliases), so the one translation of a query into SQL lives here.
 *
 * <pre>{@code
 * QuerySpec spec = QuerySpec.EVERYTHING.with(b -> b.transaction = 812L);
 * QuerySpec.SqlText sql = QuerySpec.compile(spec);   // SELECT ... FROM annals.changes WHERE ...
 * }</pre>
 */
public record QuerySpec(List<TableName> tables, String primaryKey, List<Operation> operations, Instant since,
                        Instant until, Position after, Position before, Long transaction, List<String> contexts,
                        List<String> changedColumns, List<ValuePredicate> predicates, boolean descending, Long limit,
                        int fetchSize) {

    public static final QuerySpec EVERYTHING = new QuerySpec(List.of(), null, List.of(), null, null, null, null, null, List.of(),
            List.of(), List.of(), false, null, ChangeQuery.DEFAULT_FETCH_SIZE);

    /** This spec with {@code change} applied to a copy. */
    public QuerySpec with(Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return b.build();
    }

    /** The mutable form of a spec, for {@link #with}: a change sets the fields it changes. */
    public static final class Builder {
        public List<TableName> tables;
        public String primaryKey;
        public List<Operation> operations;
        public Instant since;
        public Instant until;
        public Position after;
        public Position before;
        public Long transaction;
        public List<String> contexts;
        public List<String> changedColumns;
        public List<ValuePredicate> predicates;
        public boolean descending;
        public Long limit;
        public int fetchSize;

        Builder(QuerySpec s) {
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

        QuerySpec build() {
            return new QuerySpec(tables, primaryKey, operations, since, until, after, before, transaction, contexts,
                    changedColumns, predicates, descending, limit, fetchSize);
        }
    }

    /** One {@code where(image, column, operator, value)} of a query; {@code json} is the value as JSON text. */
    public record ValuePredicate(Image image, String column, String operator, String json, String jsonType) {
    }

    /** The SQL text and its parameters. Only constants are appended to the text. */
    public static final class SqlText {
        final StringBuilder text = new StringBuilder();
        final List<Object> params = new ArrayList<>();

        public String text() {
            return text.toString();
        }

        public void bind(PreparedStatement ps) throws SQLException {
            for (int i = 0; i < params.size(); i++) {
                Object p = params.get(i);
                if (p instanceof String s) ps.setString(i + 1, s);
                else if (p instanceof Long l) ps.setLong(i + 1, l);
                else ps.setObject(i + 1, p);
            }
        }
    }

    /** The query over {@code annals.changes} that {@code s} describes, in position order. */
    public static SqlText compile(QuerySpec s) {
        SqlText sql = new SqlText();
        sql.text.append("SELECT ").append(ChangeLogReader.columns("changes")).append(" FROM annals.changes");
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
    public static List<String> conditions(QuerySpec s, List<Object> params) {
        return conditions(s, params, "changes");
    }

    /** The filters of {@code s} as SQL conditions over the row of {@code annals.changes} aliased {@code alias}. */
    public static List<String> conditions(QuerySpec s, List<Object> params, String alias) {
        String a = alias + ".";
        SqlText sql = new SqlText();
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
            String value = (p.image() == Image.BEFORE ? beforeImage(alias) : a + "after") + " -> ?::text";
            if (p.jsonType() == null) {
                conditions.add("(" + value + ") " + p.operator() + " ?::jsonb");
                sql.params.add(p.column());
            } else {
                conditions.add("jsonb_typeof(" + value + ") = ? AND (" + value + ") " + p.operator() + " ?::jsonb");
                sql.params.add(p.column());
                sql.params.add(p.jsonType());
                sql.params.add(p.column());
            }
            sql.params.add(p.json());
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
    public static String beforeImage(String alias) {
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
    public static String textArray(List<String> values) {
        StringBuilder out = new StringBuilder("{");
        for (int i = 0; i < values.size(); i++) {
            if (i > 0) out.append(',');
            out.append('"').append(values.get(i).replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
        }
        return out.append('}').toString();
    }
}
