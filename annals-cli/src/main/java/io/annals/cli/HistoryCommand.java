package io.annals.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.history.Change;
import io.annals.history.ChangeQuery;
import io.annals.history.ColumnChange;
import io.annals.history.timetravel.Instants;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/** {@code annals history}: the audit trail, filtered like {@link ChangeQuery}, as a table, JSON lines or CSV. */
@Command(name = "history", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Show changes from the change log, oldest first, filtered like the Java API (ChangeQuery).",
                "Filters combine with AND; a repeated --table or --op means any of them, a repeated --context,"
                        + " --changed or --where means all of them.",
                "Values (--key, --context, --where) are JSON when they parse as JSON, else strings: id=42 is the"
                        + " number 42, status=paid the string \"paid\", code='\"42\"' the string \"42\"."},
        footer = {"", "Examples:",
                "  annals history --source $DB --table orders --key id=7     # one row's history",
                "  annals history --source $DB --context user_id=42 \\",
                "      --since 2026-11-24 --until '2026-11-24 12:00'",
                "  annals history --source $DB --table orders \\",
                "      --where 'after.status = paid' --changed status --desc",
                "  annals history --source $DB --transaction 812 --format json   # JSON lines",
                "  annals history --source $DB --table orders --limit 0 --format csv \\",
                "      > orders-history.csv",
                "",
                "Instants are ISO-8601 (2026-11-24T09:15:00Z, or with an offset) or",
                "'YYYY-MM-DD[ HH:MM[:SS]]' in UTC; positions are as shown in the position",
                "column."})
final class HistoryCommand implements Callable<Integer> {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS").withZone(ZoneOffset.UTC);

    @Spec
    CommandSpec spec;

    @Mixin
    ChangeLogOptions db;

    @Option(names = "--table", paramLabel = "<schema.table>", description = "Only changes of this table (a bare name means schema public). Repeat for any of several.")
    List<String> tables = List.of();

    @Option(names = "--key", paramLabel = "<column=value>", description = "Only the row with this primary key; repeat for each column of a composite key.")
    List<String> keys = List.of();

    @Option(names = "--op", split = ",", paramLabel = "<operation>", description = "Only these operations: CREATE, UPDATE, DELETE, TRUNCATE, SNAPSHOT.")
    List<String> operations = List.of();

    @Option(names = "--since", paramLabel = "<instant>", description = "Only changes committed at or after this instant.")
    String since;

    @Option(names = "--until", paramLabel = "<instant>", description = "Only changes committed before this instant.")
    String until;

    @Option(names = "--after", paramLabel = "<position>", description = "Only changes after this position.")
    String after;

    @Option(names = "--before", paramLabel = "<position>", description = "Only changes before this position.")
    String before;

    @Option(names = "--transaction", paramLabel = "<xid>", description = "Only changes of this source transaction.")
    Long transaction;

    @Option(names = "--context", paramLabel = "<key=value>", description = "Only changes whose context holds this entry (e.g. user_id=42, request_id=r-17).")
    List<String> contexts = List.of();

    @Option(names = "--changed", paramLabel = "<column>", description = "Only changes that set this column.")
    List<String> changed = List.of();

    @Option(names = "--where", paramLabel = "<image.column op value>", description = "Only changes whose before or after image satisfies this, e.g. \"after.status = paid\" (op: = <> < <= > >=).")
    List<String> where = List.of();

    @Option(names = "--desc", description = "Newest change first.")
    boolean descending;

    @Option(names = "--limit", paramLabel = "<n>", defaultValue = "100", description = "Show at most this many changes; 0 shows all, streamed. Default: ${DEFAULT-VALUE}")
    long limit;

    @Option(names = "--format", paramLabel = "table|json|csv", defaultValue = "table", description = "table (readable, cells cut), json (one object per line, full images) or csv. Default: ${DEFAULT-VALUE}")
    String format;

    @Override
    public Integer call() {
        Output.Format fmt = Output.Format.parse(format);
        if (limit < 0) throw new IllegalArgumentException("--limit " + limit + " is negative; give a count, or 0 for every change");
        // Every input is checked before the database is touched.
        Map<String, Object> key = keys.isEmpty() ? null : Values.pairs(keys, "--key", false);
        Map<String, Object> context = contexts.isEmpty() ? null : Values.pairs(contexts, "--context", true);
        List<Operation> ops = operations.stream().map(o -> Values.choice(Operation.class, o, "--op")).toList();
        Instant from = since == null ? null : Instants.parse(since);
        Instant to = until == null ? null : Instants.parse(until);
        Position afterPosition = after == null ? null : Position.parse(after);
        Position beforePosition = before == null ? null : Position.parse(before);
        List<Values.Where> predicates = where.stream().map(Values::where).toList();

        try (ChangeLogOptions.Session session = db.open()) {
            ChangeQuery q = session.trail().changes();
            if (!tables.isEmpty()) q = q.tables(tables);
            if (key != null) q = q.primaryKey(key);
            if (!ops.isEmpty()) q = q.operations(ops.toArray(Operation[]::new));
            if (from != null && to != null) q = q.between(from, to);
            else if (from != null) q = q.since(from);
            else if (to != null) q = q.until(to);
            if (afterPosition != null) q = q.after(afterPosition);
            if (beforePosition != null) q = q.before(beforePosition);
            if (transaction != null) q = q.transaction(transaction);
            if (context != null) q = q.contextContains(context);
            for (String column : changed) q = q.changedColumn(column);
            for (Values.Where w : predicates) q = q.where(w.image(), w.column(), w.operator(), w.value());
            if (descending) q = q.descending();
            // One more than asked for, to tell "that is all" from "more match".
            if (limit > 0) q = q.limit(limit + 1);
            print(q, fmt);
        }
        return 0;
    }

    private void print(ChangeQuery query, Output.Format fmt) {
        PrintWriter out = spec.commandLine().getOut();
        TablePrinter table = fmt == Output.Format.TABLE ? TablePrinter.streaming(out,
                List.of("position", "committed_at (UTC)", "tx", "op", "table", "key", "changes", "context"),
                new int[]{25, 23, 10, 8, 28, 24, 60, 40}, 200) : null;
        if (fmt == Output.Format.CSV) {
            out.print(Output.csvLine(List.of("position", "committed_at", "transaction_id", "operation", "schema", "table",
                    "primary_key", "changed_columns", "before", "after", "context")));
        }
        long shown = 0;
        boolean more = false;
        try (Stream<Change> changes = query.stream()) {
            for (Iterator<Change> it = changes.iterator(); it.hasNext(); ) {
                Change c = it.next();
                if (limit > 0 && shown == limit) {
                    more = true;
                    break;
                }
                switch (fmt) {
                    case TABLE -> table.add(c.position().toString(), TIME.format(c.committedAt()),
                            Long.toString(c.transactionId()), c.operation().name(), c.qualifiedTable(),
                            Output.json(c.primaryKey()), summary(c), c.context().isEmpty() ? "" : Output.json(c.context()));
                    case JSON -> out.println(Output.json(json(c)));
                    case CSV -> out.print(Output.csvLine(java.util.Arrays.asList(c.position().toString(),
                            c.committedAt().toString(), Long.toString(c.transactionId()), c.operation().name(), c.schema(),
                            c.table(), jsonOrNull(c.primaryKey()), Output.json(Output.JSON.valueToTree(c.changedColumns())),
                            jsonOrNull(c.before()), jsonOrNull(c.after()), Output.json(c.context()))));
                }
                if (Output.closed(out, ++shown)) return;
            }
        }
        String moreHint = "more changes match: raise --limit, or use --limit 0 to show them all";
        if (table != null) {
            table.finish();
            out.println(shown + " change(s)" + (more ? "; " + moreHint : "") + ".");
        } else if (more) {
            spec.commandLine().getErr().println("annals: showed the first " + shown + " changes; " + moreHint);
        }
        out.flush();
    }

    /** What a change did, short: the changed columns with old and new values, or the image inserted or deleted. */
    static String summary(Change c) {
        return switch (c.operation()) {
            case CREATE, SNAPSHOT -> Output.json(c.after());
            case DELETE -> Output.json(c.before());
            case TRUNCATE -> "";
            case UPDATE -> {
                List<String> parts = new ArrayList<>();
                for (ColumnChange d : c.diff()) {
                    parts.add(d.column() + ": " + (d.oldValueKnown() ? Output.json(d.oldValue()) : "?") + " -> "
                            + (d.newValue() == null ? "?" : Output.json(d.newValue())));
                }
                yield String.join("; ", parts);
            }
        };
    }

    private static ObjectNode json(Change c) {
        ObjectNode o = Output.JSON.createObjectNode();
        o.put("position", c.position().toString());
        o.put("committed_at", c.committedAt().toString());
        o.put("transaction_id", c.transactionId());
        o.put("database", c.database());
        o.put("schema", c.schema());
        o.put("table", c.table());
        o.put("operation", c.operation().name());
        o.set("primary_key", c.primaryKey());
        o.set("before", c.before());
        o.set("after", c.after());
        o.set("changed_columns", Output.JSON.valueToTree(c.changedColumns()));
        o.set("context", c.context());
        return o;
    }

    private static String jsonOrNull(JsonNode node) {
        return node == null ? null : Output.json(node);
    }
}
