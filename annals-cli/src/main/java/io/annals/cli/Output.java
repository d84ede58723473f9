package io.annals.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.annals.changelog.Json;

import java.io.PrintWriter;
import java.util.List;

/**
 * The output formats of the history commands and how values look in each: {@code table} for
 * people (compact, cut cells), {@code json} (one object per line, every value exact) and
 * {@code csv} (RFC 4180, with a header) for programs.
 *
 * <pre>{@code
 * Output.Format format = Output.Format.parse("csv");
 * out.print(Output.csvLine(List.of("id", "name")));
 * }</pre>
 */
final class Output {

    enum Format {
        TABLE, JSON, CSV;

        static Format parse(String text) {
            return Values.choice(Format.class, text, "--format");
        }
    }

    /** Writes numbers exactly as stored: 10.50 stays 10.50, never 1.05E+1. */
    static final ObjectMapper JSON = Json.mapper();

    /** Rows between checks that whoever reads the output is still there (a closed pipe ends the command). */
    private static final int CHECK_EVERY = 500;

    private Output() {
    }

    /** Compact JSON text of {@code node}; empty for none. */
    static String json(JsonNode node) {
        if (node == null) return "";
        try {
            return JSON.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("Cannot write JSON: " + e.getOriginalMessage(), e);
        }
    }

    /**
     * A value as a cell: a string as its text, other scalars as their JSON text, objects and arrays
     * as compact JSON; SQL NULL and a missing value as {@code nullText}.
     */
    static String cell(JsonNode value, String nullText) {
        if (value == null || value.isMissingNode() || value.isNull()) return nullText;
        if (value.isTextual()) return value.textValue();
        return json(value);
    }

    /**
     * One CSV record (RFC 4180), ended by CRLF: fields quoted when they need it. A {@code null} field
     * is written empty and an empty string as {@code ""}, so that SQL NULL and '' stay apart (as
     * PostgreSQL's own {@code COPY ... CSV} does).
     */
    static String csvLine(List<String> fields) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < fields.size(); i++) {
            if (i > 0) out.append(',');
            String f = fields.get(i);
            if (f == null) continue;
            if (f.isEmpty() || f.indexOf(',') >= 0 || f.indexOf('"') >= 0 || f.indexOf('\n') >= 0 || f.indexOf('\r') >= 0) {
                out.append('"').append(f.replace("\"", "\"\"")).append('"');
            } else {
                out.append(f);
            }
        }
        return out.append("\r\n").toString();
    }

    /**
     * Whether to stop after {@code rows} rows: the output is closed (say, {@code | head}), so that
     * a long stream is not read for nobody. Checked every few hundred rows, since the check flushes.
     */
    static boolean closed(PrintWriter out, long rows) {
        return rows % CHECK_EVERY == 0 && out.checkError();
    }
    /** The word as a POSIX shell reads it back: quoted only when it needs to be. */
    static String shellWord(String word) {
        return word.matches("[A-Za-z0-9_./:=@%+,-]+") ? word : "'" + word.replace("'", "'\\''") + "'";
    }
}
