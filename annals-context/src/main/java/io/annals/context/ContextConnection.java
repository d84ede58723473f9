package io.annals.context;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Objects;

/**
 * The connection behind a {@link ContextDataSource}: hands out statements that record the
 * context, and remembers what was recorded in the current transaction.
 *
 * <p>A dynamic proxy rather than a hand-written wrapper keeps every other method of the driver's
 * connection reachable as it is, including those added by later JDBC versions.
 */
final class ContextConnection implements InvocationHandler {

    private static final String EMIT = "SELECT pg_logical_emit_message(true, ?::text, ?::text)";
    private static final String NO_CONTEXT = AnnalsContext.empty().toJson();

    /** What a statement runs once the context has been taken care of. */
    @FunctionalInterface
    interface Action {
        Object run() throws Throwable;
    }

    private final Connection raw;
    private final ContextDataSource settings;
    private final Connection proxy;
    /** The context in force in the current transaction as far as the WAL knows; null for none. */
    private String lastEmitted;

    private ContextConnection(Connection raw, ContextDataSource settings) {
        this.raw = raw;
        this.settings = settings;
        this.proxy = (Connection) Proxy.newProxyInstance(ContextConnection.class.getClassLoader(),
                new Class<?>[] {Connection.class}, this);
    }

    static Connection wrap(Connection raw, ContextDataSource settings) {
        return new ContextConnection(Objects.requireNonNull(raw, "connection"), settings).proxy;
    }

    Connection proxy() {
        return proxy;
    }

    @Override
    public Object invoke(Object self, Method method, Object[] args) throws Throwable {
        switch (method.getName()) {
            case "createStatement":
                return ContextStatement.wrap(Statement.class, (Statement) delegate(raw, method, args), this, null);
            case "prepareStatement":
                return ContextStatement.wrap(PreparedStatement.class, (PreparedStatement) delegate(raw, method, args), this,
                        (String) args[0]);
            case "prepareCall":
                return ContextStatement.wrap(CallableStatement.class, (CallableStatement) delegate(raw, method, args), this,
                        (String) args[0]);
            case "setAutoCommit", "commit", "rollback", "close", "abort":
                try {
                    return delegate(raw, method, args);
                } finally {
                    transactionEnded();
                }
            case "unwrap":
                return ((Class<?>) args[0]).isInstance(self) ? self : raw.unwrap((Class<?>) args[0]);
            case "isWrapperFor":
                return ((Class<?>) args[0]).isInstance(self) || raw.isWrapperFor((Class<?>) args[0]);
            case "equals":
                return self == args[0];
            case "hashCode":
                return System.identityHashCode(self);
            case "toString":
                return "ContextConnection[" + raw + "]";
            default:
                return delegate(raw, method, args);
        }
    }

    /** Forgets what was emitted: the transaction it was emitted in is over (or may be). */
    void transactionEnded() {
        lastEmitted = null;
    }

    /**
     * Runs a statement that may write, preceded in its transaction by the current context.
     *
     * @param statement the driver's statement, whose fetch size may need adjusting
     * @param sql the statement text, for {@link ContextDataSource#includeSql(boolean)}
     */
    Object write(Statement statement, String sql, Action action) throws Throwable {
        AnnalsContext context = AnnalsContext.current();
        if (raw.getAutoCommit()) {
            return context.isEmpty() ? action.run() : inOwnTransaction(statement, message(context, sql), action);
        }
        String inForce = context.isEmpty() ? null : context.toJson();
        if (!Objects.equals(inForce, lastEmitted) || (inForce != null && settings.includesSql())) {
            // An empty object ends the earlier context, which would otherwise extend to these rows.
            emit(inForce == null ? NO_CONTEXT : message(context, sql));
            lastEmitted = inForce;
        }
        return action.run();
    }

    /**
     * In autocommit mode the message and the statement would otherwise commit separately, and a
     * failing statement would leave a committed message describing nothing.
     */
    private Object inOwnTransaction(Statement statement, String message, Action action) throws Throwable {
        // With autocommit off the driver may fetch rows through a cursor that the commit below
        // closes; the caller asked for autocommit, so it expects every row at hand.
        int fetchSize = statement.getFetchSize();
        if (fetchSize != 0) {
            statement.setFetchSize(0);
        }
        Object result;
        try {
            raw.setAutoCommit(false);
            emit(message);
            result = action.run();
            raw.commit();
        } catch (Throwable failure) {
            try {
                raw.rollback();
            } catch (SQLException | RuntimeException e) {
                failure.addSuppressed(e);
            }
            try {
                restore(statement, fetchSize);
            } catch (SQLException | RuntimeException e) {
                failure.addSuppressed(e);
            }
            throw failure;
        }
        restore(statement, fetchSize);
        return result;
    }

    private void restore(Statement statement, int fetchSize) throws SQLException {
        lastEmitted = null;
        raw.setAutoCommit(true);
        if (fetchSize != 0) {
            statement.setFetchSize(fetchSize);
        }
    }

    private String message(AnnalsContext context, String sql) {
        return settings.includesSql() && sql != null ? context.toJsonWithSql(sql, settings.maxSqlBytesValue()) : context.toJson();
    }

    private void emit(String json) throws SQLException {
        // Straight on the driver's connection: through the proxy this would recurse.
        try (PreparedStatement emit = raw.prepareStatement(EMIT)) {
            emit.setString(1, settings.prefixValue());
            emit.setString(2, json);
            emit.execute();
        }
    }

    static Object delegate(Object target, Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
