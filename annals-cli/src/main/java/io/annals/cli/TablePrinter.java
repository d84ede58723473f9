package io.annals.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * Prints rows as an aligned text table, cutting cells that are too wide so that a table of JSON
 * images stays readable in a terminal.
 */
final class TablePrinter {

    private final List<String> headers;
    private final int[] maxWidths;
    private final List<String[]> rows = new ArrayList<>();

    TablePrinter(List<String> headers, int[] maxWidths) {
        this.headers = headers;
        this.maxWidths = maxWidths;
    }

    void add(String... cells) {
        rows.add(cells);
    }

    void print(PrintWriter out) {
        int n = headers.size();
        int[] widths = new int[n];
        for (int i = 0; i < n; i++) widths[i] = headers.get(i).length();
        for (String[] r : rows) {
            for (int i = 0; i < n; i++) widths[i] = Math.max(widths[i], Math.min(cell(r, i).length(), maxWidths[i]));
        }
        line(out, headers.toArray(String[]::new), widths);
        StringBuilder sep = new StringBuilder();
        for (int i = 0; i < n; i++) sep.append(i == 0 ? "" : "-+-").append("-".repeat(widths[i]));
        out.println(sep);
        for (String[] r : rows) line(out, r, widths);
        out.flush();
    }

    private static String cell(String[] r, int i) {
        return i < r.length && r[i] != null ? r[i] : "";
    }

    private void line(PrintWriter out, String[] cells, int[] widths) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < widths.length; i++) {
            String c = cell(cells, i).replace('\n', ' ');
            if (c.length() > widths[i]) c = c.substring(0, Math.max(0, widths[i] - 1)) + "…";
            if (i > 0) sb.append(" | ");
            sb.append(c).append(" ".repeat(widths[i] - c.length()));
        }
        out.println(sb.toString().stripTrailing());
    }
}
