package io.annals.capture.source;

import io.annals.capture.CaptureException;
import io.annals.changelog.ChangeLogWriter;
import org.postgresql.PGProperty;
import org.postgresql.replication.PGReplicationStream;
import org.postgresql.util.PSQLException;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/**
 * Opens connections to the source and target, turning the driver's failures into errors that say
 * what to fix.
 */
public final class Connections {

    /**
     * Session settings for every connection that renders values: the replication stream's text
     * output and the snapshot's {@code to_jsonb} must agree, and stored timestamps must not depend
     * on the JVM's time zone.
     */
    public static final String SESSION_OPTIONS = "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres"
            + " -c extra_float_digits=3 -c bytea_output=hex";

    private Connections() {
    }

    public static Connection open(String url, String purpose) {
        return open(url, purpose, new Properties());
    }

    public static Connection open(String url, String purpose, Properties extra) {
        if (url == null || !url.startsWith("jdbc:postgresql:")) {
            throw new CaptureException("The " + purpose + " URL '" + redact(url) + "' is not a PostgreSQL JDBC URL."
                    + " Use the form jdbc:postgresql://host:5432/database?user=name&password=secret");
        }
        Properties props = new Properties();
        props.putAll(extra);
        PGProperty.APPLICATION_NAME.set(props, "annals");
        if (!props.containsKey(PGProperty.OPTIONS.getName())) {
            PGProperty.OPTIONS.set(props, SESSION_OPTIONS);
        }
        try {
            return DriverManager.getConnection(url, props);
        } catch (SQLException e) {
            throw explain(e, url, purpose);
        }
    }

    /** Opens a replication-protocol connection (for the slot's stream and its creation). */
    public static Connection openReplication(String url) {
        Properties props = new Properties();
        PGProperty.REPLICATION.set(props, "database");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(props, "10");
        PGProperty.PREFER_QUERY_MODE.set(props, "simple");
        return open(url, "source", props);
    }

    public static CaptureException explain(SQLException e, String url, String purpose) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String where = redact(url);
        // Our advice follows the driver's words, so its own full stop must go.
        String msg = withoutFullStop(e.getMessage());
        if (state.equals("28P01") || state.equals("28000")) {
            return new CaptureException("Authentication to the " + purpose + " database failed (" + where + "): " + msg
                    + ". Check the user and password in the URL, and pg_hba.conf on the server.", e);
        }
        if (state.equals("3D000")) {
            return new CaptureException("The " + purpose + " database does not exist (" + where + "): " + msg
                    + ". Create it or fix the database name in the URL.", e);
        }
        if (state.startsWith("08") || e instanceof PSQLException && msg != null && msg.contains("Connection to")) {
            return new CaptureException("Cannot reach the " + purpose + " PostgreSQL at " + where + " (" + unreachable(e)
                    + "): is the server running, and are the host and port right?", e, true);
        }
        if (state.equals("42501")) {
            return new CaptureException("Missing privilege on the " + purpose + " database (" + where + "): " + msg, e);
        }
        return new CaptureException("The " + purpose + " database (" + where + ") failed: " + msg, e,
                state.startsWith("57P") || state.startsWith("53"));
    }

    /**
     * Why a server could not be reached, in a few words. The driver's own sentence for a refused
     * connection gives the same advice as ours, so the cause is named instead where it is known.
     */
    private static String unreachable(SQLException e) {
        for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
            if (t instanceof java.net.ConnectException) return "connection refused";
            if (t instanceof java.net.UnknownHostException) return "unknown host " + t.getMessage();
            if (t instanceof java.net.SocketTimeoutException) return "timed out";
            if (t instanceof java.net.NoRouteToHostException) return "no route to host";
        }
        return withoutFullStop(e.getMessage());
    }

    private static String withoutFullStop(String message) {
        if (message == null) return "no message";
        String m = message.strip();
        while (m.endsWith(".")) m = m.substring(0, m.length() - 1);
        return m;
    }

    /** The URL without its password, for messages and logs. */
    public static String redact(String url) {
        if (url == null) return "null";
        return url.replaceAll("(?i)(password=)[^&]*", "$1***").replaceAll("//([^:/@]+):[^@/]*@", "//$1:***@");
    }

    /** Closes what is not null, ignoring failures: used on the way out, when nothing else can be done. */
    public static void closeResources(PGReplicationStream stream, Connection replication, ChangeLogWriter writer) {
        try {
            if (stream != null) stream.close();
        } catch (SQLException ignored) {
            // Closing anyway.
        }
        closeQuietly(replication);
        if (writer != null) writer.close();
    }

    public static void closeQuietly(Connection c) {
        if (c == null) return;
        try {
            c.close();
        } catch (SQLException ignored) {
            // Nothing to do.
        }
    }

    /** The failure's message, followed by its root cause's when that is another exception. */
    public static String rootMessage(Throwable t) {
        Throwable cur = t;
        while (cur.getCause() != null && cur.getCause() != cur) cur = cur.getCause();
        return cur == t ? String.valueOf(t.getMessage()) : t.getMessage() + " (" + cur.getMessage() + ")";
    }
}
