package io.annals.events;

import io.annals.changelog.Sql;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.function.Consumer;

/** Runs a query of events through a server-side cursor, so memory stays bounded whatever the result size. */
final class Cursor {

    static final int FETCH_SIZE = 1_000;

    /** Binds parameters to a statement. */
    @FunctionalInterface
    interface Binder {
        void bind(PreparedStatement ps) throws SQLException;
    }

    private Cursor() {
    }

    /**
     * Runs the query on the caller's connection, in the caller's transaction if one is open (then
     * streaming through a cursor); in autocommit mode the whole result is fetched at once, so the
     * caller bounds it with a LIMIT.
     */
    static long forEach(Connection c, String sql, Binder binder, Consumer<? super RecordedEvent> action, String what) {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setFetchSize(FETCH_SIZE);
            binder.bind(ps);
            long n = 0;
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    action.accept(EventStore.map(rs));
                    n++;
                }
            }
            return n;
        } catch (SQLException e) {
            throw new EventStoreException("Could not read " + what + ": " + e.getMessage(), e);
        }
    }

    static long forEach(DataSource dataSource, String sql, Binder binder, Consumer<? super RecordedEvent> action, String what) {
        try (Connection c = dataSource.getConnection()) {
            // pgjdbc streams with a fetch size only inside a transaction
            return Sql.inTransaction(c, tx -> forEach(tx, sql, binder, action, what));
        } catch (SQLException e) {
            throw new EventStoreException("Could not read " + what + ": " + e.getMessage(), e);
        }
    }
}
