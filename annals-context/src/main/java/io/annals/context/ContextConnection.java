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
    /**
     * Put before a prepared statement's own text so that the message travels with it: the driver
     * sends a multi-statement query's parts with one Sync, and the server runs everything up to a
     * Sync in one transaction, so the message costs no round trip of its own and commits, or rolls
     * back, with the statement.
     */
    static final String EMIT_BEFORE = EMIT + ";\n";
    private static final String NO_CONTEXT = AnnalsContext.empty().toJson();
    /** What was emitted when a write carrying a message failed: unknown, so the next write emits again. */
    private static final String UNKNOWN = "(unknown: not a JSON object)";

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
                return ContextStatement.wrap(Statement.class, (Statement) delegate(raw, method, args), this, null, null, null);
            case "prepareStatement":
                return ContextStatement.wrap(PreparedStatement.class, (PreparedStatement) delegate(raw, method, args), this,
                        (String) args[0], method, args);
            case "prepareCall":
                return ContextStatement.wrap(CallableStatement.class, (CallableStatement) delegate(raw, method, args), this,
                        (String) args[0], null, null);
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
     * Runs a statement that may write, preceded in its transaction by the current context, the
     * message being sent on its own (for batches and statements whose results a multi-statement
     * query would change).
     *
     * @param statement the driver's statement, whose fetch size may need adjusting
     * @param sql the statement text, for {@link ContextDataSource#includeSql(boolean)}
     */
    Object write(Statement statement, String sql, Action action) throws Throwable {
        String message = messageBefore(sql);
        return message == null ? action.run() : writeSeparately(statement, message, action);
    }

    /**
     * The message that must precede a write of {@code sql} now, or null when none is needed. In an
     * explicit transaction it is noted as in force: the caller must emit it before the write, in
     * the same transaction, and call {@link #emitFailed()} if that fails.
     */
    String messageBefore(String sql) throws SQLException {
        AnnalsContext context = AnnalsContext.current();
        if (raw.getAutoCommit()) {
            return context.isEmpty() ? null : message(context, sql);
        }
        String inForce = context.isEmpty() ? null : context.toJson();
        if (!Objects.equals(inForce, lastEmitted) || (inForce != null && settings.includesSql())) {
            lastEmitted = inForce;
            // An empty object ends the earlier context, which would otherwise extend to these rows.
            return inForce == null ? NO_CONTEXT : message(context, sql);
        }
        return null;
    }

    /** A write carrying a message failed: whether the message stays in the transaction is unknown. */
    void emitFailed() {
        lastEmitted = UNKNOWN;
    }

    String prefix() {
        return settings.prefixValue();
    }

    /** Emits {@code message}, then runs the write: in a transaction of their own in autocommit mode. */
    Object writeSeparately(Statement statement, String message, Action action) throws Throwable {
        if (raw.getAutoCommit()) {
            return inOwnTransaction(statement, message, action);
        }
        try {
            emit(message);
        } catch (Throwable failure) {
            emitFailed();
            throw failure;
        }
        return action.run();
    }

    /** Prepares a statement on the driver's connection, as {@code method} would with these arguments. */
    PreparedStatement prepareRaw(Method method, Object[] args) throws Throwable {
        return (PreparedStatement) delegate(raw, method, args);
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
