package io.annals.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * Prints rows as an aligned text table, cutting cells that are too wide so that a table of JSON
 * images stays readable in a terminal.
 *
 * <p>Two modes. {@link #TablePrinter(List, int[]) Buffered}: rows are kept until {@link #print}, which
 * sizes every column to fit. {@link #streaming Streaming}: columns are sized on the first
 * {@code sample} rows, then every further row is printed as it comes, cut to those widths, so that
 * memory stays flat however many rows there are.
 *
 * <pre>{@code
 * TablePrinter t = TablePrinter.streaming(out, List.of("id", "name"), new int[]{10, 30}, 200);
 * rows.forEach(r -> t.add(r.id(), r.name()));
 * t.finish();
 * }</pre>
 */
final class TablePrinter {

    private final List<String> headers;
    private final int[] maxWidths;
    private final List<String[]> rows = new ArrayList<>();
    /** Streaming mode: where rows go, and after how many buffered rows the widths are fixed. */
    private final PrintWriter out;
    private final int sample;
    private int[] widths;

    TablePrinter(List<String> headers, int[] maxWidths) {
        this(headers, maxWidths, null, Integer.MAX_VALUE);
    }

    private TablePrinter(List<String> headers, int[] maxWidths, PrintWriter out, int sample) {
        if (headers.size() != maxWidths.length) {
            throw new IllegalArgumentException(headers.size() + " headers but " + maxWidths.length + " widths");
        }
        this.headers = List.copyOf(headers);
        this.maxWidths = maxWidths.clone();
        this.out = out;
        this.sample = sample;
    }

    /** A table that prints to {@code out} as rows come, its columns sized on the first {@code sample} rows. */
    static TablePrinter streaming(PrintWriter out, List<String> headers, int[] maxWidths, int sample) {
        if (sample < 1) throw new IllegalArgumentException("sample must be at least 1, not " + sample);
        return new TablePrinter(headers, maxWidths, out, sample);
    }

    void add(String... cells) {
        if (widths != null) {
            line(out, cells, widths);
            return;
        }
        rows.add(cells);
        if (out != null && rows.size() >= sample) flush(out);
    }

    /** Buffered mode: prints the header and every row added. */
    void print(PrintWriter to) {
        flush(to);
        to.flush();
    }

    /** Streaming mode: prints what is still buffered (the header at least, for an empty table). */
    void finish() {
        if (widths == null) flush(out);
        out.flush();
    }

    private void flush(PrintWriter to) {
        int n = headers.size();
        widths = new int[n];
        for (int i = 0; i < n; i++) widths[i] = headers.get(i).length();
        for (String[] r : rows) {
            for (int i = 0; i < n; i++) widths[i] = Math.max(widths[i], Math.min(cell(r, i).length(), maxWidths[i]));
        }
        line(to, headers.toArray(String[]::new), widths);
        StringBuilder sep = new StringBuilder();
        for (int i = 0; i < n; i++) sep.append(i == 0 ? "" : "-+-").append("-".repeat(widths[i]));
        to.println(sep);
        for (String[] r : rows) line(to, r, widths);
        rows.clear();
    }

    private static String cell(String[] r, int i) {
        return i < r.length && r[i] != null ? r[i] : "";
    }

    private static void line(PrintWriter out, String[] cells, int[] widths) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < widths.length; i++) {
            String c = cell(cells, i).replace('\n', ' ').replace('\r', ' ');
            if (c.length() > widths[i]) c = c.substring(0, Math.max(0, widths[i] - 1)) + "…";
            if (i > 0) sb.append(" | ");
            sb.append(c).append(" ".repeat(widths[i] - c.length()));
        }
        out.println(sb.toString().stripTrailing());
    }
}
