package io.annals.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.annals.changelog.Position;
import io.annals.history.AuditTrail;
import io.annals.history.ColumnChange;
import io.annals.history.HistoryException;
import io.annals.history.timetravel.RowDiff;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/** {@code annals diff}: how a table changed between two cuts of the change log, row by row. */
@Command(name = "diff", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"How a table changed between two instants or positions: each row ADDED, REMOVED or CHANGED"
                + " (with the columns that differ), ordered by primary key, streamed.",
                "A row changed and changed back in between is no difference."},
        footer = {"", "Examples:",
                "  annals diff --source $DB --table orders \\",
                "      --from '2026-11-24 09:00' --to '2026-11-24 10:00'",
                "  annals diff --source $DB --table orders --from 2026-11-01 --to 2026-12-01 \\",
                "      --format json | jq .key",
                "  annals diff --source $DB --table orders --format csv \\",
                "      --from 00000000016B3748.00000003 --to 00000000016C0000.00000000"})
final class DiffCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ChangeLogOptions db;

    @Option(names = "--table", required = true, paramLabel = "<schema.table>", description = "The table (a bare name means schema public).")
    String table;

    @Option(names = "--from", required = true, paramLabel = "<instant|position>", description = "The earlier cut.")
    String from;

    @Option(names = "--to", required = true, paramLabel = "<instant|position>", description = "The later cut.")
    String to;

    @Option(names = "--format", paramLabel = "table|json|csv", defaultValue = "table",
            description = "table (one line per row), json (one object per row, with both images) or csv (one line per column). Default: ${DEFAULT-VALUE}")
    String format;

    @Override
    public Integer call() {
        Output.Format fmt = Output.Format.parse(format);
        Cut earlier = Cut.parse(from, "--from");
        Cut later = Cut.parse(to, "--to");
        try (ChangeLogOptions.Session session = db.open(); Stream<RowDiff> diff = diff(session.trail(), earlier, later)) {
            print(diff, fmt);
        }
        return 0;
    }

    private Stream<RowDiff> diff(AuditTrail trail, Cut earlier, Cut later) {
        if (earlier instanceof Cut.AtInstant a && later instanceof Cut.AtInstant b) {
            return trail.diff(table, a.instant(), b.instant());
        }
        return trail.diff(table, position(trail, earlier, "--from"), position(trail, later, "--to"));
    }

    /** A cut as a position: an instant given next to a position is resolved to the position it stands for. */
    private static Position position(AuditTrail trail, Cut cut, String option) {
        return switch (cut) {
            case Cut.AtPosition p -> p.position();
            case Cut.AtInstant i -> trail.asOf(i.instant()).position().orElseThrow(() -> new HistoryException(option + " "
                    + i.instant() + " is before the change log's first change, so nothing is known of the table then;"
                    + " give a later instant"));
        };
    }

    private void print(Stream<RowDiff> diff, Output.Format fmt) {
        PrintWriter out = spec.commandLine().getOut();
        TablePrinter table = fmt == Output.Format.TABLE ? TablePrinter.streaming(out, List.of("kind", "key", "columns"),
                new int[]{7, 30, 100}, 200) : null;
        if (fmt == Output.Format.CSV) out.print(Output.csvLine(List.of("kind", "key", "column", "old", "new")));
        long rows = 0;
        for (Iterator<RowDiff> it = diff.iterator(); it.hasNext(); ) {
            RowDiff d = it.next();
            switch (fmt) {
                case TABLE -> table.add(d.kind().name(), Output.json(d.primaryKey()), switch (d.kind()) {
                    case ADDED -> Output.json(d.after());
                    case REMOVED -> Output.json(d.before());
                    case CHANGED -> columns(d.columns());
                });
                case JSON -> out.println(Output.json(json(d)));
                case CSV -> {
                    for (ColumnChange c : d.columns()) {
                        out.print(Output.csvLine(Arrays.asList(d.kind().name(), Output.json(d.primaryKey()), c.column(),
                                Output.cell(c.oldValue(), null), Output.cell(c.newValue(), null))));
                    }
                }
            }
            if (Output.closed(out, ++rows)) return;
        }
        if (table != null) {
            table.finish();
            out.println(rows + " row(s) differ.");
        }
        out.flush();
    }

    private static String columns(List<ColumnChange> columns) {
        List<String> parts = new ArrayList<>(columns.size());
        for (ColumnChange c : columns) {
            parts.add(c.column() + ": " + (c.oldValue() == null ? "(none)" : Output.json(c.oldValue())) + " -> "
                    + (c.newValue() == null ? "(none)" : Output.json(c.newValue())));
        }
        return String.join("; ", parts);
    }

    private static ObjectNode json(RowDiff d) {
        ObjectNode o = Output.JSON.createObjectNode();
        o.put("kind", d.kind().name());
        o.set("key", d.primaryKey());
        o.set("before", d.before());
        o.set("after", d.after());
        ArrayNode columns = o.putArray("columns");
        for (ColumnChange c : d.columns()) {
            ObjectNode col = columns.addObject();
            col.put("column", c.column());
            col.set("old", c.oldValue());
            col.set("new", c.newValue());
        }
        return o;
    }
}
