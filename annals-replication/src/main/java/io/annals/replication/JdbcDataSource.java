package io.annals.replication;

import org.postgresql.ds.PGSimpleDataSource;

import javax.sql.DataSource;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.logging.Logger;

/**
 * A {@link DataSource} for a JDBC URL, PostgreSQL or MariaDB (whose driver must be on the class
 * path), for the command line and simple setups; an application passes its own pool instead.
 *
 * <pre>{@code
 * DataSource replica = JdbcDataSource.of("jdbc:mariadb://127.0.0.1:3306/test?user=root");
 * }</pre>
 */
public final class JdbcDataSource implements DataSource {

    private final String url;

    private JdbcDataSource(String url) {
        this.url = url;
    }

    /**
     * A data source for {@code url}.
     *
     * @throws IllegalArgumentException for a URL that is neither {@code jdbc:postgresql:} nor {@code jdbc:mariadb:}/{@code jdbc:mysql:}
     */
    public static DataSource of(String url) {
        if (url == null) throw new IllegalArgumentException("A JDBC URL is needed, e.g. jdbc:postgresql://host/db?user=u");
        if (url.startsWith("jdbc:postgresql:")) {
            PGSimpleDataSource ds = new PGSimpleDataSource();
            ds.setURL(url);
            ds.setApplicationName("annals cqrs");
            return ds;
        }
        if (url.startsWith("jdbc:mariadb:") || url.startsWith("jdbc:mysql:")) return new JdbcDataSource(url);
        throw new IllegalArgumentException("Not a PostgreSQL or MariaDB JDBC URL: '" + url + "'; expected e.g."
                + " jdbc:postgresql://127.0.0.1:5432/app?user=app or jdbc:mariadb://127.0.0.1:3306/app?user=root");
    }

    @Override
    public Connection getConnection() throws SQLException {
        return DriverManager.getConnection(url);
    }

    @Override
    public Connection getConnection(String username, String password) throws SQLException {
        return DriverManager.getConnection(url, username, password);
    }

    @Override
    public PrintWriter getLogWriter() {
        return null;
    }

    @Override
    public void setLogWriter(PrintWriter out) {
        // DriverManager logs on its own
    }

    @Override
    public void setLoginTimeout(int seconds) {
        DriverManager.setLoginTimeout(seconds);
    }

    @Override
    public int getLoginTimeout() {
        return DriverManager.getLoginTimeout();
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
        throw new SQLFeatureNotSupportedException();
    }

    @Override
    public <T> T unwrap(Class<T> iface) throws SQLException {
        if (iface.isInstance(this)) return iface.cast(this);
        throw new SQLException("Not a wrapper of " + iface);
    }

    @Override
    public boolean isWrapperFor(Class<?> iface) {
        return iface.isInstance(this);
    }

    @Override
    public String toString() {
        return "JdbcDataSource[" + url.replaceAll("password=[^&]*", "password=***") + "]";
    }
}
