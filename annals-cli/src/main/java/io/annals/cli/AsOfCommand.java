package io.annals.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.history.timetravel.AsOf;
import io.annals.history.timetravel.Materialization;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/** {@code annals as-of}: a table as it was at an instant or position, printed or materialised into a schema. */
@Command(name = "as-of", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Time travel: tables as they were at an instant or a position of the change log.",
                "Without --into, prints the rows of one table (ordered by primary key, streamed).",
                "With --into, writes the tables, all at the same cut and in one transaction, as plain tables into a"
                        + " schema of the change log's database, and prints what it wrote."},
        footer = {"", "Examples:",
                "  annals as-of --source $DB --at '2026-11-24 09:00' --table orders",
                "  annals as-of --source $DB --at 00000000016B3748.00000003 \\",
                "      --table shop.orders --format csv > orders.csv",
                "  annals as-of --source $DB --at 2026-11-24 --table orders --table customers \\",
                "      --into as_of_nov_24",
                "  annals as-of --source $DB --at 2026-11-24 --all-tables --into as_of_nov_24 \\",
                "      --replace",
                "  psql -c 'TABLE as_of_nov_24.orders'      # plain tables: any SQL works"})
final class AsOfCommand implements Callable<Integer> {

    /** Rows the table and CSV formats read before fixing their columns. */
    private static final int SAMPLE = 200;

    @Spec
    CommandSpec spec;

    @Mixin
    ChangeLogOptions db;

    @Option(names = "--at", required = true, paramLabel = "<instant|position>",
            description = "The cut: an instant (2026-11-24T09:00:00Z, '2026-11-24 09:00' in UTC) or a change log position.")
    String at;

    @Option(names = "--table", paramLabel = "<schema.table>", description = "The table (a bare name means schema public); repeat with --into for several.")
    List<String> tables = List.of();

    @Option(names = "--all-tables", description = "With --into: every table of the change log.")
    boolean allTables;

    @Option(names = "--into", paramLabel = "<schema>", description = "Write the tables into this schema (created if missing) instead of printing rows.")
    String into;

    @Option(names = "--replace", description = "With --into: replace tables of the same name already in the schema.")
    boolean replace;

    @Option(names = "--format", paramLabel = "table|json|csv", description = "How to print the rows: table (default), json (one row per line) or csv.")
    String format;

    @Override
    public Integer call() {
        Cut cut = Cut.parse(at, "--at");
        if (allTables && !tables.isEmpty()) {
            throw new IllegalArgumentException("Give either --table or --all-tables, not both");
        }
        if (into == null) {
            if (allTables || tables.size() != 1) {
                throw new IllegalArgumentException("Printing rows takes exactly one --table"
                        + (allTables || tables.size() > 1 ? "; to copy several tables (or --all-tables) add --into <schema>" : ", e.g. --table orders"));
            }
            if (replace) throw new IllegalArgumentException("--replace only applies with --into <schema>");
            Output.Format fmt = format == null ? Output.Format.TABLE : Output.Format.parse(format);
            try (ChangeLogOptions.Session session = db.open()) {
                print(cut.asOf(session.trail()), tables.get(0), fmt);
            }
            return 0;
        }
        if (format != null) {
            throw new IllegalArgumentException("--format applies to printed rows; with --into the rows go to schema " + into
                    + " (query them with SQL)");
        }
        if (!allTables && tables.isEmpty()) {
            throw new IllegalArgumentException("Name the tables to copy with --table (repeatable), or give --all-tables");
        }
        try (ChangeLogOptions.Session session = db.open()) {
            AsOf asOf = cut.asOf(session.trail());
            Materialization m = allTables ? asOf.materializeAll() : asOf.materialize(tables.toArray(String[]::new));
            if (replace) m = m.replacingExisting();
            summarize(m.into(into), cut);
        }
        return 0;
    }

    private void print(AsOf asOf, String table, Output.Format fmt) {
        PrintWriter out = spec.commandLine().getOut();
        long rows = 0;
        try (Stream<JsonNode> images = asOf.table(table)) {
            Iterator<JsonNode> it = images.iterator();
            if (fmt == Output.Format.JSON) {
                while (it.hasNext()) {
                    out.println(Output.json(it.next()));
                    if (Output.closed(out, ++rows)) return;
                }
                out.flush();
                return;
            }
            // The columns come from the rows themselves (the table may be gone, or changed since):
            // those of the first rows, in their order.
            List<JsonNode> sample = new ArrayList<>();
            while (sample.size() < SAMPLE && it.hasNext()) sample.add(it.next());
            Set<String> columns = new LinkedHashSet<>();
            for (JsonNode row : sample) row.fieldNames().forEachRemaining(columns::add);
            List<String> header = List.copyOf(columns);
            Set<String> unshown = new LinkedHashSet<>();
            TablePrinter printer = null;
            if (fmt == Output.Format.TABLE) {
                int[] widths = new int[header.size()];
                java.util.Arrays.fill(widths, 40);
                printer = TablePrinter.streaming(out, header, widths, SAMPLE);
            } else {
                out.print(Output.csvLine(header));
            }
            Iterator<JsonNode> all = concat(sample.iterator(), it);
            while (all.hasNext()) {
                JsonNode row = all.next();
                row.fieldNames().forEachRemaining(name -> {
                    if (!columns.contains(name)) unshown.add(name);
                });
                List<String> cells = new ArrayList<>(header.size());
                for (String column : header) cells.add(Output.cell(row.get(column), printer != null ? "NULL" : null));
                if (printer != null) printer.add(cells.toArray(String[]::new));
                else out.print(Output.csvLine(cells));
                if (Output.closed(out, ++rows)) return;
            }
            if (printer != null) {
                printer.finish();
                out.println(rows + " row(s) of " + table + " as of " + describe(asOf) + ".");
            }
            out.flush();
            if (!unshown.isEmpty()) {
                // Not silently dropped: later rows carry columns the first ones lacked (added since).
                spec.commandLine().getErr().println("annals: later rows also have column(s) " + String.join(", ", unshown)
                        + ", not shown; use --format json to see every column of every row");
            }
        }
    }

    private void summarize(Materialization.Result result, Cut cut) {
        PrintWriter out = spec.commandLine().getOut();
        out.println("Materialized " + result.copies().size() + " table(s), " + result.rows() + " row(s), as of " + cut
                + " (position " + result.position() + ") into schema " + into + ":");
        TablePrinter t = new TablePrinter(List.of("table", "copy", "rows"), new int[]{50, 50, 15});
        for (Materialization.Copy c : result.copies()) t.add(c.source(), c.target(), Long.toString(c.rows()));
        t.print(out);
        if (!result.skipped().isEmpty()) {
            out.println("Skipped " + result.skipped().size() + " table(s):");
            for (Map.Entry<String, String> s : new java.util.TreeMap<>(result.skipped()).entrySet()) out.println("  " + s.getKey() + ": " + s.getValue());
        }
        out.flush();
    }

    private static String describe(AsOf asOf) {
        String position = asOf.position().map(Object::toString).orElse("before the change log");
        return asOf.instant().map(i -> i + " (position " + position + ")").orElse(position);
    }

    private static <T> Iterator<T> concat(Iterator<T> first, Iterator<T> second) {
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return first.hasNext() || second.hasNext();
            }

            @Override
            public T next() {
                return first.hasNext() ? first.next() : second.next();
            }
        };
    }
}
