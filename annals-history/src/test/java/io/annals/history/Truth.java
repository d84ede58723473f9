package io.annals.history;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.testkit.TestPostgres;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The ground truth side of the truth tests: tables read straight from the database, and values
 * from the change log rendered the same way, so that the two can be compared as text.
 *
 * <p>Rows are rendered as {@code to_jsonb(row)::text} in a session with {@code TimeZone=UTC}, the
 * rendering capture stores images in; the trail's images are rendered through {@code ::jsonb::text}
 * so that key order and spacing cannot differ while numeric scale still counts.
 */
public final class Truth implements AutoCloseable {

    private final String url;
    private final Connection connection;

    /** A session on the database at {@code url}, kept open until closed. */
    public Truth(String url) {
        this.url = url;
        try {
            this.connection = connect(url);
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    @Override
    public void close() throws SQLException {
        connection.close();
    }

    /** A jsonb parameter: bound as text and cast in the SQL ({@code ?::jsonb}). */
    public record Json(String text) {
    }

    /** The first column of each row of {@code sql} as text, in the query's order. */
    public List<String> column(String sql, Object... params) {
        try (PreparedStatement ps = connection.prepareStatement(sql)) {
            bind(connection, ps, params);
            List<String> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(rs.getString(1));
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage() + " in: " + sql + " on " + url, e);
        }
    }

    /** The single value of {@code sql}. */
    public long number(String sql, Object... params) {
        List<String> values = column(sql, params);
        if (values.size() != 1) throw new IllegalStateException("Expected one row from " + sql + ", got " + values);
        return Long.parseLong(values.get(0));
    }

    /** Each row of {@code table}, as {@code to_jsonb} renders it, ordered by {@code orderBy} (an expression over alias r). */
    public List<String> rows(String table, String orderBy) {
        return column("SELECT to_jsonb(r)::text FROM " + table + " r ORDER BY " + orderBy);
    }

    /** The trail's images rendered as jsonb text, in the same order. */
    public List<String> rendered(List<? extends JsonNode> images) {
        return renderedTexts(images.stream().map(JsonNode::toString).toList());
    }

    /** JSON texts rendered as jsonb text, in the same order. */
    public List<String> renderedTexts(List<String> texts) {
        if (texts.isEmpty()) return List.of();
        return column("SELECT x::jsonb::text FROM unnest(?::text[]) WITH ORDINALITY u(x, i) ORDER BY i",
                (Object) texts.toArray(String[]::new));
    }

    public static Connection connect(String url) throws SQLException {
        Connection c = TestPostgres.connect(url);
        try (Statement s = c.createStatement()) {
            s.execute("SET TimeZone = 'UTC'");
            s.execute("SET bytea_output = 'hex'");
        }
        return c;
    }

    public static void bind(Connection c, PreparedStatement ps, Object... params) throws SQLException {
        for (int i = 0; i < params.length; i++) {
            int n = i + 1;
            switch (params[i]) {
                case null -> ps.setObject(n, null);
                case String s -> ps.setString(n, s);
                case Long l -> ps.setLong(n, l);
                case Integer v -> ps.setInt(n, v);
                case BigDecimal d -> ps.setBigDecimal(n, d);
                case OffsetDateTime t -> ps.setObject(n, t);
                case UUID u -> ps.setObject(n, u);
                case byte[] b -> ps.setBytes(n, b);
                case String[] a -> ps.setArray(n, c.createArrayOf("text", a));
                case Json j -> ps.setString(n, j.text());
                default -> throw new IllegalArgumentException("Cannot bind " + params[i].getClass());
            }
        }
    }
}
