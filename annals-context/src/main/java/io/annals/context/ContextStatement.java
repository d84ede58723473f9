package io.annals.context;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A statement of a {@link ContextConnection}: finds out at execute time whether it writes, and if
 * so lets the connection record the context first.
 *
 * <p>A single write carries its message in the same round trip: the message becomes the first
 * part of a multi-statement query whose second part is the write, which the driver sends with one
 * Sync and the server runs as one transaction. A plain statement prepends it as literals; a
 * prepared one uses a second driver statement, prepared once, with two more parameters in front,
 * onto which the application's parameters are copied. The message's one-row result is skipped,
 * so the caller sees the write's results only. Batches, calls and statements asked for generated
 * keys (whose results a multi-statement query would change) send the message on its own.
 */
final class ContextStatement implements InvocationHandler {

    /** A parameter setter call, replayed onto the statement that carries the message. */
    private record Call(Method method, Object[] args) {
    }

    private final Statement raw;
    private final ContextConnection connection;
    private final String preparedSql;
    private final SqlClassifier.Classification prepared;
    private final List<String> batch = new ArrayList<>();
    private boolean preparedBatch;
    /** How the application prepared this statement, to prepare the one carrying the message alike; null if it cannot. */
    private final Method prepareMethod;
    private final Object[] prepareArgs;
    /** The application's parameters by index, as last set. */
    private final Map<Integer, Call> parameters;
    /** The statement settings the application made (fetch size, timeout, ...), to apply to the second statement too. */
    private final Map<Method, Object[]> settings = new LinkedHashMap<>();
    /** The prepared statement that carries the message; created on the first write under a context. */
    private PreparedStatement withMessage;
    /** The statement whose results the application reads now: {@code raw} or {@code withMessage}. */
    private Statement current;

    private ContextStatement(Statement raw, ContextConnection connection, String preparedSql, Method prepareMethod,
                             Object[] prepareArgs) {
        this.raw = raw;
        this.connection = connection;
        this.preparedSql = preparedSql;
        // Classified once: a prepared statement is typically executed many times.
        this.prepared = SqlClassifier.classify(preparedSql);
        // prepareStatement(sql) and (sql, type, concurrency[, holdability]) keep their results
        // when a message goes first; (sql, generated keys) would not.
        boolean combinable = prepareMethod != null && prepareMethod.getParameterCount() != 2;
        this.prepareMethod = combinable ? prepareMethod : null;
        this.prepareArgs = combinable ? prepareArgs : null;
        this.parameters = combinable ? new HashMap<>() : null;
        this.current = raw;
    }

    static <S extends Statement> S wrap(Class<S> type, S raw, ContextConnection connection, String preparedSql,
                                       Method prepareMethod, Object[] prepareArgs) {
        if (raw == null) {
            return null;
        }
        return type.cast(Proxy.newProxyInstance(ContextStatement.class.getClassLoader(), new Class<?>[] {type},
                new ContextStatement(raw, connection, preparedSql, prepareMethod, prepareArgs)));
    }

    @Override
    public Object invoke(Object self, Method method, Object[] args) throws Throwable {
        String name = method.getName();
        switch (name) {
            case "execute", "executeQuery", "executeUpdate", "executeLargeUpdate":
                if (args != null && args.length > 0 && args[0] instanceof String sql) {
                    return execute(SqlClassifier.classify(sql), sql, method, args);
                }
                return execute(prepared, preparedSql, method, args);
            case "addBatch":
                if (args != null && args.length > 0 && args[0] instanceof String sql) {
                    batch.add(sql);
                } else {
                    preparedBatch = true;
                }
                return ContextConnection.delegate(raw, method, args);
            case "clearBatch":
                clearBatch();
                return ContextConnection.delegate(raw, method, args);
            case "executeBatch", "executeLargeBatch":
                current = raw;
                try {
                    return executeBatch(method, args);
                } finally {
                    // JDBC empties the batch whether or not it succeeded.
                    clearBatch();
                }
            case "getResultSet", "getUpdateCount", "getLargeUpdateCount", "getMoreResults", "getGeneratedKeys",
                 "getWarnings", "clearWarnings", "cancel":
                return ContextConnection.delegate(current, method, args);
            case "clearParameters":
                if (parameters != null) {
                    parameters.clear();
                }
                return ContextConnection.delegate(raw, method, args);
            case "close":
                try {
                    if (withMessage != null) {
                        withMessage.close();
                    }
                } finally {
                    ContextConnection.delegate(raw, method, args);
                }
                return null;
            case "getConnection":
                return connection.proxy();
            case "unwrap":
                return ((Class<?>) args[0]).isInstance(self) ? self : raw.unwrap((Class<?>) args[0]);
            case "isWrapperFor":
                return ((Class<?>) args[0]).isInstance(self) || raw.isWrapperFor((Class<?>) args[0]);
            case "equals":
                return self == args[0];
            case "hashCode":
                return System.identityHashCode(self);
            case "toString":
                return "ContextStatement[" + raw + "]";
            default:
                Object result = ContextConnection.delegate(raw, method, args);
                remember(method, args);
                return result;
        }
    }

    /** Keeps what a setter set, once the driver has accepted it, for the statement that carries the message. */
    private void remember(Method method, Object[] args) throws Throwable {
        // closeOnCompletion is left out: the message's own result, skipped, would close the carrier.
        if (args == null || !method.getName().startsWith("set")) {
            return;
        }
        Class<?> declaring = method.getDeclaringClass();
        if (parameters != null && declaring == PreparedStatement.class && args[0] instanceof Integer index) {
            parameters.put(index, new Call(method, args.clone()));
        } else if (declaring == Statement.class) {
            settings.put(method, args.clone());
            if (withMessage != null) {
                ContextConnection.delegate(withMessage, method, args);
            }
        }
    }

    private Object execute(SqlClassifier.Classification kind, String sql, Method method, Object[] args) throws Throwable {
        current = raw;
        try {
            if (!kind.writes()) {
                return ContextConnection.delegate(raw, method, args);
            }
            String message = connection.messageBefore(sql);
            if (message == null) {
                return ContextConnection.delegate(raw, method, args);
            }
            boolean plain = args != null && args.length == 1 && args[0] instanceof String;
            boolean preparedPlain = (args == null || args.length == 0) && prepareMethod != null;
            if (!plain && !preparedPlain) {
                return connection.writeSeparately(raw, message, () -> ContextConnection.delegate(raw, method, args));
            }
            try {
                Statement carrier = plain ? executePlain(message, sql) : executePrepared(message);
                current = carrier;
                return results(carrier, method.getName());
            } catch (Throwable failure) {
                connection.emitFailed();
                throw failure;
            }
        } finally {
            if (kind.controlsTransaction()) {
                connection.transactionEnded();
            }
        }
    }

    private Statement executePlain(String message, String sql) throws SQLException {
        raw.execute("SELECT pg_logical_emit_message(true, " + literal(connection.prefix()) + "::text, " + literal(message)
                + "::text);\n" + sql);
        return raw;
    }

    private Statement executePrepared(String message) throws Throwable {
        if (withMessage == null) {
            Object[] args = prepareArgs.clone();
            args[0] = ContextConnection.EMIT_BEFORE + preparedSql;
            withMessage = connection.prepareRaw(prepareMethod, args);
            for (Map.Entry<Method, Object[]> setting : settings.entrySet()) {
                ContextConnection.delegate(withMessage, setting.getKey(), setting.getValue());
            }
        }
        // Cleared first so that a parameter the application cleared fails as it would have.
        withMessage.clearParameters();
        withMessage.setString(1, connection.prefix());
        withMessage.setString(2, message);
        for (Call call : parameters.values()) {
            Object[] shifted = call.args().clone();
            shifted[0] = (Integer) shifted[0] + 2;
            ContextConnection.delegate(withMessage, call.method(), shifted);
        }
        withMessage.execute();
        return withMessage;
    }

    /** Skips the message's result and answers as the application's execute method would have. */
    private static Object results(Statement carrier, String method) throws SQLException {
        carrier.getMoreResults();
        ResultSet rows = carrier.getResultSet();
        return switch (method) {
            case "executeQuery" -> {
                if (rows == null) {
                    throw new SQLException("No results were returned by the query.", "02000");
                }
                yield rows;
            }
            case "executeUpdate" -> {
                if (rows != null) {
                    throw new SQLException("A result was returned when none was expected.", "0100E");
                }
                yield carrier.getUpdateCount();
            }
            case "executeLargeUpdate" -> {
                if (rows != null) {
                    throw new SQLException("A result was returned when none was expected.", "0100E");
                }
                yield carrier.getLargeUpdateCount();
            }
            default -> rows != null;
        };
    }

    /** A string constant that means the same whatever standard_conforming_strings says. */
    private static String literal(String text) {
        return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'";
    }

    private Object executeBatch(Method method, Object[] args) throws Throwable {
        List<String> writes = new ArrayList<>();
        boolean controls = false;
        if (preparedBatch) {
            if (prepared.writes()) {
                writes.add(preparedSql);
            }
            controls = prepared.controlsTransaction();
        }
        for (String sql : batch) {
            SqlClassifier.Classification kind = SqlClassifier.classify(sql);
            if (kind.writes()) {
                writes.add(sql);
            }
            controls |= kind.controlsTransaction();
        }
        try {
            // One message for the whole batch, as nothing can be slipped in between its statements.
            return writes.isEmpty()
                    ? ContextConnection.delegate(raw, method, args)
                    : connection.write(raw, String.join(";\n", writes), () -> ContextConnection.delegate(raw, method, args));
        } finally {
            if (controls) {
                connection.transactionEnded();
            }
        }
    }

    private void clearBatch() {
        batch.clear();
        preparedBatch = false;
    }
}
