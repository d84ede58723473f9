package io.annals.context;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.ConnectionBuilder;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.ShardingKey;
import java.sql.ShardingKeyBuilder;
import java.util.Objects;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * A {@link DataSource} whose connections record the {@linkplain AnnalsContext#current() current
 * context} in the WAL, in the same transaction as the rows each write changes and before them,
 * where the capture worker reads it back (see {@link ContextMessage}).
 *
 * <pre>{@code
 * DataSource db = ContextDataSource.wrap(hikariPool).includeSql(true);
 * try (var scope = AnnalsContext.with(Map.of("user_id", 42));
 *      Connection c = db.getConnection();
 *      PreparedStatement done = c.prepareStatement("UPDATE todo SET done = true WHERE id = ?")) {
 *     done.setLong(1, 7);
 *     done.executeUpdate(); // preceded by pg_logical_emit_message(true, 'annals', '{"user_id":42,"sql":"UPDATE ..."}')
 * }
 * }</pre>
 *
 * <p>What is emitted, and when:
 * <ul>
 *   <li>Nothing for reads ({@code SELECT}, {@code SHOW}, {@code SET}, transaction control, ...) and
 *       nothing while no context is bound. Any statement not clearly read-only counts as a write,
 *       {@code WITH} included. A {@code SELECT} calling a function that writes is not detected.
 *   <li>The message travels with the write, in the same round trip: it is sent as the first part
 *       of a multi-statement query whose second part is the statement, which the server runs as
 *       one transaction in autocommit mode, so that they commit, or roll back, together. The
 *       caller sees the statement's results only. A batch, a {@code CallableStatement} and a
 *       statement asked for generated keys send the message ahead instead, in autocommit mode in
 *       a transaction of their own with the write (two more round trips; autocommit is restored).
 *   <li>In an explicit transaction, a message when the context differs from the one last
 *       emitted in that transaction, so a bulk update or a run of statements under one context
 *       costs one message. If the context is unbound mid-transaction, an empty object ({@code {}})
 *       marks that the following rows have none. With {@link #includeSql(boolean)}, one message
 *       per write statement instead, carrying its text.
 *   <li>A batch gets one message before it.
 * </ul>
 *
 * <p>Instances are immutable; the option methods return a copy. The wrapper may sit on either side
 * of a connection pool. Work done through the driver's own objects, reached with
 * {@code unwrap} (e.g. the PostgreSQL driver's {@code CopyManager}), bypasses it.
 */
public final class ContextDataSource implements DataSource {

    private final DataSource target;
    private final boolean includeSql;
    private final String prefix;
    private final int maxSqlBytes;

    private ContextDataSource(DataSource target, boolean includeSql, String prefix, int maxSqlBytes) {
        this.target = target;
        this.includeSql = includeSql;
        this.prefix = prefix;
        this.maxSqlBytes = maxSqlBytes;
    }

    /**
     * Wraps {@code target}, emitting with prefix {@link ContextMessage#PREFIX} and without
     * statement text. Wrapping a {@code ContextDataSource} returns it as is, so that no write is
     * recorded twice.
     *
     * <pre>{@code DataSource db = ContextDataSource.wrap(pool);}</pre>
     */
    public static ContextDataSource wrap(DataSource target) {
        Objects.requireNonNull(target, "target");
        return target instanceof ContextDataSource wrapped
                ? wrapped
                : new ContextDataSource(target, false, ContextMessage.PREFIX, ContextMessage.DEFAULT_MAX_SQL_BYTES);
    }

    /**
     * A copy that also records each write statement's text under {@link ContextMessage#SQL_KEY}
     * (parameters are not included), emitting one message per write statement.
     *
     * <pre>{@code DataSource db = ContextDataSource.wrap(pool).includeSql(true);}</pre>
     */
    public ContextDataSource includeSql(boolean include) {
        return new ContextDataSource(target, include, prefix, maxSqlBytes);
    }

    /**
     * A copy that emits with another message prefix, e.g. {@link ContextMessage#BEMI_PREFIX} for
     * a capture pipeline that expects Bemi's.
     *
     * <pre>{@code DataSource db = ContextDataSource.wrap(pool).prefix(ContextMessage.BEMI_PREFIX);}</pre>
     */
    public ContextDataSource prefix(String prefix) {
        Objects.requireNonNull(prefix, "prefix");
        if (prefix.isBlank()) {
            throw new IllegalArgumentException("The message prefix must not be blank");
        }
        return new ContextDataSource(target, includeSql, prefix, maxSqlBytes);
    }

    /**
     * A copy that records at most {@code bytes} of UTF-8 of a statement's text (default
     * {@link ContextMessage#DEFAULT_MAX_SQL_BYTES}). Longer text, such as a many-row
     * {@code INSERT} with literal values, is cut and flagged with
     * {@link ContextMessage#SQL_TRUNCATED_KEY}; the context itself is never cut.
     *
     * <pre>{@code DataSource db = ContextDataSource.wrap(pool).includeSql(true).maxSqlBytes(1024);}</pre>
     */
    public ContextDataSource maxSqlBytes(int bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("maxSqlBytes must not be negative, got " + bytes);
        }
        return new ContextDataSource(target, includeSql, prefix, bytes);
    }

    boolean includesSql() {
        return includeSql;
    }

    String prefixValue() {
        return prefix;
    }

    int maxSqlBytesValue() {
        return maxSqlBytes;
    }

    @Override
    public Connection getConnection() throws SQLException {
        return ContextConnection.wrap(target.getConnection(), this);
    }

    @Override
    public Connection getConnection(String username, String password) throws SQLException {
        return ContextConnection.wrap(target.getConnection(username, password), this);
    }

    @Override
    public ConnectionBuilder createConnectionBuilder() throws SQLException {
        ConnectionBuilder builder = target.createConnectionBuilder();
        // Otherwise connections built this way would bypass the wrapper.
        return new ConnectionBuilder() {
            @Override
            public ConnectionBuilder user(String username) {
                builder.user(username);
                return this;
            }

            @Override
            public ConnectionBuilder password(String password) {
                builder.password(password);
                return this;
            }

            @Override
            public ConnectionBuilder shardingKey(ShardingKey shardingKey) {
                builder.shardingKey(shardingKey);
                return this;
            }

            @Override
            public ConnectionBuilder superShardingKey(ShardingKey superShardingKey) {
                builder.superShardingKey(superShardingKey);
                return this;
            }

            @Override
            public Connection build() throws SQLException {
                return ContextConnection.wrap(builder.build(), ContextDataSource.this);
            }
        };
    }

    @Override
    public ShardingKeyBuilder createShardingKeyBuilder() throws SQLException {
        return target.createShardingKeyBuilder();
    }

    @Override
    public PrintWriter getLogWriter() throws SQLException {
        return target.getLogWriter();
    }

    @Override
    public void setLogWriter(PrintWriter out) throws SQLException {
        target.setLogWriter(out);
    }

    @Override
    public void setLoginTimeout(int seconds) throws SQLException {
        target.setLoginTimeout(seconds);
    }

    @Override
    public int getLoginTimeout() throws SQLException {
        return target.getLoginTimeout();
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
        return target.getParentLogger();
    }

    @Override
    public <T> T unwrap(Class<T> iface) throws SQLException {
        return iface.isInstance(this) ? iface.cast(this) : target.unwrap(iface);
    }

    @Override
    public boolean isWrapperFor(Class<?> iface) throws SQLException {
        return iface.isInstance(this) || target.isWrapperFor(iface);
    }

    @Override
    public String toString() {
        return "ContextDataSource[" + target + ", prefix=" + prefix + ", includeSql=" + includeSql + "]";
    }
}
