package io.annals.changelog;

import org.postgresql.core.Utils;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * SQL text that must be spliced rather than bound (identifiers, statements that take no
 * parameters, scripts to run by hand), quoted by pgjdbc's own escaping, and the one way Annals
 * runs work in a transaction of its own.
 *
 * <pre>{@code
 * String ddl = "CREATE SCHEMA " + Sql.identifier("as of 2026");        // CREATE SCHEMA "as of 2026"
 * String table = Sql.qualified("public", "Orders");                   // "public"."Orders"
 * String where = "name = " + Sql.literal("it's");                     // name = 'it''s'
 * long rows = Sql.inTransaction(connection, c -> copyRows(c));        // committed, or rolled back
 * }</pre>
 */
public final class Sql {

    private Sql() {
    }

    /** {@code name} as a quoted identifier, whatever its case or characters. */
    public static String identifier(String name) {
        try {
            return Utils.escapeIdentifier(new StringBuilder(name.length() + 2), name).toString();
        } catch (SQLException e) {
            throw nul("an SQL identifier", name, e);
        }
    }

    /** {@code schema.table}, each part a quoted identifier. */
    public static String qualified(String schema, String table) {
        return identifier(schema) + "." + identifier(table);
    }

    /**
     * An SQL string literal that reads the same whatever the session's
     * {@code standard_conforming_strings}: plain ({@code '...'}) when it holds no backslash, else
     * an escape string ({@code E'...'}), whose meaning that setting does not change. Some of the
     * SQL Annals writes is a script that a user runs by hand, in a session we do not control.
     *
     * @throws IllegalArgumentException if {@code text} holds a NUL character, which no PostgreSQL
     *                                  text value can hold
     */
    public static String literal(String text) {
        boolean plain = text.indexOf('\\') < 0;
        StringBuilder out = new StringBuilder(text.length() + 3).append(plain ? "'" : "E'");
        try {
            return Utils.escapeLiteral(out, text, plain).append('\'').toString();
        } catch (SQLException e) {
            throw nul("an SQL literal", text, e);
        }
    }

    /** Only a NUL character makes pgjdbc's escaping fail; say so rather than pass on its message. */
    private static IllegalArgumentException nul(String what, String text, SQLException cause) {
        return new IllegalArgumentException("Cannot write a string as " + what + ": it holds a NUL character (at index "
                + text.indexOf('\0') + "), which PostgreSQL text cannot hold", cause);
    }

    /**
     * Runs {@code work} in one transaction on {@code connection} and commits it; on any failure
     * rolls it back and rethrows that failure (a rollback that fails too is attached to it as
     * suppressed). The connection's autocommit mode is restored either way, so a pooled connection
     * goes back as it came.
     *
     * <pre>{@code
     * Sql.inTransaction(connection, c -> {
     *     debit(c, from, amount);
     *     credit(c, to, amount);
     *     return null;
     * });
     * }</pre>
     *
     * @param connection a connection in autocommit mode (one already in a transaction would have
     *                   that transaction committed with the work)
     */
    public static <T> T inTransaction(Connection connection, SqlFunction<Connection, T> work) throws SQLException {
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        T result;
        try {
            result = work.apply(connection);
            connection.commit();
        } catch (Throwable failure) {
            // Errors too: restoring autocommit with the transaction still open would commit it.
            try {
                connection.rollback();
            } catch (SQLException | RuntimeException e) {
                failure.addSuppressed(e);
            }
            try {
                connection.setAutoCommit(autoCommit);
            } catch (SQLException | RuntimeException e) {
                failure.addSuppressed(e);
            }
            throw failure;
        }
        connection.setAutoCommit(autoCommit);
        return result;
    }

    /** A function that may throw {@link SQLException}. */
    @FunctionalInterface
    public interface SqlFunction<T, R> {
        R apply(T t) throws SQLException;
    }
}
