package io.annals.history.internal;

import io.annals.history.HistoryException;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * What a streamed read holds open (a connection, its transaction, a server-side cursor), as a lazy
 * {@link Stream} that gives it all back once, when the stream is closed. The audit trail's queries
 * and time travel's table reads stream the same way, so they share this.
 *
 * <pre>{@code
 * Cursor cursor = new Cursor(connection);
 * cursor.autoCommit = connection.getAutoCommit();
 * connection.setAutoCommit(false);
 * cursor.statement = connection.prepareStatement(sql);
 * cursor.rows = cursor.statement.executeQuery();
 * return cursor.stream(rows -> rows.getString(1), "read the change log");
 * }</pre>
 */
public final class Cursor {
    final Connection connection;
    /** Set by the caller as it opens them; closed (if set) when the stream is. */
    public PreparedStatement statement;
    public ResultSet rows;
    /** The connection's auto-commit before the read began, restored on close; null when it was not changed. */
    public Boolean autoCommit;
    volatile boolean closed;

    public Cursor(Connection connection) {
        this.connection = connection;
    }

    /** A row of the open result set, read into a value. */
    @FunctionalInterface
    public interface RowReader<T> {
        T read(ResultSet rows) throws SQLException;
    }

    /**
     * The open result set as a lazy stream; closing the stream closes the cursor and gives the
     * connection back. {@code what} names the read in error messages.
     */
    public <T> Stream<T> stream(RowReader<T> reader, String what) {
        Spliterator<T> spliterator = new Spliterators.AbstractSpliterator<>(Long.MAX_VALUE,
                Spliterator.ORDERED | Spliterator.NONNULL | Spliterator.IMMUTABLE) {
            @Override
            public boolean tryAdvance(Consumer<? super T> action) {
                T next;
                try {
                    if (closed || !rows.next()) return false;
                    next = reader.read(rows);
                } catch (SQLException e) {
                    throw ChangeLogReader.failure(what, e);
                }
                action.accept(next);
                return true;
            }
        };
        return StreamSupport.stream(spliterator, false).onClose(this::close);
    }

    /** Closes what is open and gives the connection back; later calls do nothing. */
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try (Connection c = connection) {
            try {
                if (rows != null) rows.close();
                if (statement != null) statement.close();
            } finally {
                if (autoCommit != null) {
                    c.rollback();
                    c.setAutoCommit(autoCommit);
                }
            }
        } catch (SQLException e) {
            throw new HistoryException("Could not close the change log stream: " + e.getMessage(), e);
        }
    }
}
