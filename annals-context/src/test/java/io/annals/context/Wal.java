package io.annals.context;

import io.annals.testkit.TestPostgres;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@code test_decoding} slot on one test database: what reached the WAL, as text lines.
 * Dropped on close because the server has a limited number of slots.
 */
final class Wal implements AutoCloseable {

    private static final AtomicInteger counter = new AtomicInteger();
    static final String MESSAGE = "message: transactional: 1 prefix: ";

    private final String url;
    private final String slot;

    private Wal(String url, String slot) {
        this.url = url;
        this.slot = slot;
    }

    static Wal open(String url) throws SQLException {
        // Slot names are cluster-wide, while databases are per test.
        String slot = "annals_context_" + ProcessHandle.current().pid() + "_" + counter.incrementAndGet();
        query(url, "SELECT pg_create_logical_replication_slot('" + slot + "', 'test_decoding')");
        return new Wal(url, slot);
    }

    /** Consumes and returns the lines decoded since the last call, without xids and empty transactions. */
    List<String> changes() throws SQLException {
        return query(url, "SELECT data FROM pg_logical_slot_get_changes('" + slot + "', NULL, NULL, "
                + "'include-xids', '0', 'skip-empty-xacts', '1')");
    }

    /** The content of each context message in {@code lines}, in order. */
    static List<String> messages(List<String> lines) {
        List<String> contents = new ArrayList<>();
        for (String line : lines) {
            if (line.startsWith(MESSAGE)) {
                contents.add(line.substring(line.indexOf("content:") + "content:".length()));
            }
        }
        return contents;
    }

    /** The expected test_decoding line for a message with this content. */
    static String message(String prefix, String content) {
        return MESSAGE + prefix + ", sz: " + content.getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                + " content:" + content;
    }

    static String message(String content) {
        return message(ContextMessage.PREFIX, content);
    }

    @Override
    public void close() throws SQLException {
        query(url, "SELECT pg_drop_replication_slot('" + slot + "')");
    }

    private static List<String> query(String url, String sql) throws SQLException {
        List<String> rows = new ArrayList<>();
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                rows.add(rs.getString(1));
            }
        }
        return rows;
    }
}
