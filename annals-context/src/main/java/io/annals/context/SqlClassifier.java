package io.annals.context;

import java.util.Locale;

/**
 * Decides from a statement's text whether it may change rows, so that reads cost nothing.
 *
 * <p>Errs towards "writes": a needless message is a few bytes of WAL, a missing one is a change
 * without its context. Only statements that clearly change no rows are let through, plus those
 * that cannot run inside a transaction block (such as {@code VACUUM}), which change no rows
 * either and would fail if wrapped in one. A {@code SELECT} that calls a function which writes is
 * the one case this cannot see. The text is lexed rather than matched, so that keywords inside
 * comments, literals and quoted names do not count and every statement of a multi-statement
 * string is looked at.
 */
final class SqlClassifier {

    /**
     * @param writes whether a context message must precede the statement
     * @param controlsTransaction whether it begins or ends a transaction (or returns to a
     *     savepoint), after which what was emitted earlier may no longer be in force
     */
    record Classification(boolean writes, boolean controlsTransaction) {
    }

    private enum Kind { READ, WRITE, CONTROL, NO_TRANSACTION }

    private static final Classification READ = new Classification(false, false);

    private SqlClassifier() {
    }

    static Classification classify(String sql) {
        if (sql == null) {
            return READ;
        }
        boolean write = false;
        boolean control = false;
        boolean noTransaction = false;
        StatementWords words = new StatementWords();
        int n = sql.length();
        int i = 0;
        while (true) {
            if (i >= n || sql.charAt(i) == ';') {
                switch (words.kind()) {
                    case WRITE -> write = true;
                    case CONTROL -> control = true;
                    case NO_TRANSACTION -> noTransaction = true;
                    case READ -> { }
                }
                if (i >= n) {
                    break;
                }
                words = new StatementWords();
                i++;
                continue;
            }
            char c = sql.charAt(i);
            char next = i + 1 < n ? sql.charAt(i + 1) : '\0';
            if (c == '-' && next == '-') {
                int eol = sql.indexOf('\n', i);
                i = eol < 0 ? n : eol + 1;
            } else if (c == '/' && next == '*') {
                i = skipBlockComment(sql, i);
            } else if (c == '\'' || c == '"') {
                i = skipQuoted(sql, i, c, false);
            } else if (c == '$') {
                int end = dollarQuoteEnd(sql, i);
                i = end < 0 ? i + 1 : end;
            } else if (Character.isLetter(c) || c == '_') {
                int start = i++;
                while (i < n && isIdentifierPart(sql.charAt(i))) {
                    i++;
                }
                if (i - start == 1 && (c == 'E' || c == 'e') && i < n && sql.charAt(i) == '\'') {
                    i = skipQuoted(sql, i, '\'', true);
                } else {
                    words.add(sql, start, i);
                }
            } else if (Character.isDigit(c)) {
                // Numbers such as 1e5 or 0x1F must not yield words.
                while (i < n && isIdentifierPart(sql.charAt(i))) {
                    i++;
                }
            } else {
                i++;
            }
        }
        // Wrapping a statement that cannot run in a transaction block would make it fail.
        return write && !noTransaction ? new Classification(true, control) : control ? new Classification(false, true) : READ;
    }

    /** The few words of one statement that decide its kind. */
    private static final class StatementWords {
        private String first;
        private String second;
        private boolean into;
        private boolean concurrently;
        private boolean analyze;
        private boolean dml;

        void add(String sql, int start, int end) {
            if (first == null) {
                first = sql.substring(start, end).toUpperCase(Locale.ROOT);
                return;
            }
            if (second == null) {
                second = sql.substring(start, end).toUpperCase(Locale.ROOT);
            }
            into |= is(sql, start, end, "INTO");
            concurrently |= is(sql, start, end, "CONCURRENTLY");
            analyze |= is(sql, start, end, "ANALYZE") || is(sql, start, end, "ANALYSE");
            dml |= is(sql, start, end, "INSERT") || is(sql, start, end, "UPDATE") || is(sql, start, end, "DELETE")
                    || is(sql, start, end, "MERGE");
        }

        private static boolean is(String sql, int start, int end, String word) {
            return end - start == word.length() && sql.regionMatches(true, start, word, 0, word.length());
        }

        Kind kind() {
            if (first == null) {
                return Kind.READ;
            }
            return switch (first) {
                case "SELECT" -> into ? Kind.WRITE : Kind.READ; // SELECT ... INTO creates and fills a table
                case "VALUES", "TABLE", "SHOW", "SET", "RESET", "FETCH", "MOVE", "CLOSE", "DECLARE", "LISTEN", "UNLISTEN",
                     "NOTIFY", "LOCK", "DEALLOCATE", "DISCARD" -> Kind.READ;
                case "EXPLAIN" -> analyze && dml ? Kind.WRITE : Kind.READ; // EXPLAIN ANALYZE runs the statement
                case "PREPARE" -> "TRANSACTION".equals(second) ? Kind.CONTROL : Kind.READ;
                case "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE" -> Kind.CONTROL;
                case "VACUUM", "CHECKPOINT", "ANALYZE", "ANALYSE", "CLUSTER", "REINDEX", "LOAD" -> Kind.NO_TRANSACTION;
                case "CREATE", "DROP", "ALTER", "REFRESH" -> concurrently || isClusterWide(second) ? Kind.NO_TRANSACTION : Kind.WRITE;
                default -> Kind.WRITE; // INSERT, UPDATE, DELETE, MERGE, WITH, CALL, DO, COPY, EXECUTE, TRUNCATE, ...
            };
        }

        private static boolean isClusterWide(String object) {
            return "DATABASE".equals(object) || "TABLESPACE".equals(object) || "SUBSCRIPTION".equals(object)
                    || "SYSTEM".equals(object);
        }
    }

    private static boolean isIdentifierPart(char c) {
        return Character.isLetterOrDigit(c) || c == '_' || c == '$';
    }

    private static int skipBlockComment(String sql, int i) {
        // PostgreSQL block comments nest.
        int depth = 0;
        int n = sql.length();
        while (i < n) {
            if (sql.startsWith("/*", i)) {
                depth++;
                i += 2;
            } else if (sql.startsWith("*/", i)) {
                depth--;
                i += 2;
                if (depth == 0) {
                    return i;
                }
            } else {
                i++;
            }
        }
        return n;
    }

    private static int skipQuoted(String sql, int i, char quote, boolean backslashEscapes) {
        int n = sql.length();
        int j = i + 1;
        while (j < n) {
            char c = sql.charAt(j);
            if (backslashEscapes && c == '\\') {
                j += 2;
            } else if (c == quote) {
                if (j + 1 < n && sql.charAt(j + 1) == quote) {
                    j += 2;
                } else {
                    return j + 1;
                }
            } else {
                j++;
            }
        }
        return n;
    }

    /** The end of the dollar-quoted string starting at {@code i}, or -1 if {@code $} starts none (e.g. {@code $1}). */
    private static int dollarQuoteEnd(String sql, int i) {
        int n = sql.length();
        int j = i + 1;
        if (j < n && (Character.isLetter(sql.charAt(j)) || sql.charAt(j) == '_')) {
            while (j < n && (Character.isLetterOrDigit(sql.charAt(j)) || sql.charAt(j) == '_')) {
                j++;
            }
        }
        if (j >= n || sql.charAt(j) != '$') {
            return -1;
        }
        String tag = sql.substring(i, j + 1);
        int close = sql.indexOf(tag, j + 1);
        return close < 0 ? n : close + tag.length();
    }
}
