package io.annals.context;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * A statement of a {@link ContextConnection}: finds out at execute time whether it writes, and if
 * so lets the connection record the context first.
 */
final class ContextStatement implements InvocationHandler {

    private final Statement raw;
    private final ContextConnection connection;
    private final String preparedSql;
    private final SqlClassifier.Classification prepared;
    private final List<String> batch = new ArrayList<>();
    private boolean preparedBatch;

    private ContextStatement(Statement raw, ContextConnection connection, String preparedSql) {
        this.raw = raw;
        this.connection = connection;
        this.preparedSql = preparedSql;
        // Classified once: a prepared statement is typically executed many times.
        this.prepared = SqlClassifier.classify(preparedSql);
    }

    static <S extends Statement> S wrap(Class<S> type, S raw, ContextConnection connection, String preparedSql) {
        if (raw == null) {
            return null;
        }
        return type.cast(Proxy.newProxyInstance(ContextStatement.class.getClassLoader(), new Class<?>[] {type},
                new ContextStatement(raw, connection, preparedSql)));
    }

    @Override
    public Object invoke(Object self, Method method, Object[] args) throws Throwable {
        switch (method.getName()) {
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
                try {
                    return executeBatch(method, args);
                } finally {
                    // JDBC empties the batch whether or not it succeeded.
                    clearBatch();
                }
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
                return ContextConnection.delegate(raw, method, args);
        }
    }

    private Object execute(SqlClassifier.Classification kind, String sql, Method method, Object[] args) throws Throwable {
        try {
            return kind.writes()
                    ? connection.write(raw, sql, () -> ContextConnection.delegate(raw, method, args))
                    : ContextConnection.delegate(raw, method, args);
        } finally {
            if (kind.controlsTransaction()) {
                connection.transactionEnded();
            }
        }
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
