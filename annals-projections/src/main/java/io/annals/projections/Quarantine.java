package io.annals.projections;

import io.annals.changelog.ChangeRow;
import io.annals.changelog.Json;
import io.annals.changelog.Position;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The projections' quarantine, {@code annals.projection_quarantine} in the output database. */
final class Quarantine {

    private Quarantine() {
    }

    static void put(Connection c, String projection, ChangeRow change, CanonicalKey key, String error, FailurePolicy policy)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO annals.projection_quarantine"
                + " (projection, position, canonical_type, canonical_pk, change, error, policy) VALUES (?, ?, ?, ?::jsonb, ?::jsonb, ?, ?)"
                + " ON CONFLICT (projection, position) DO UPDATE SET error = excluded.error, policy = excluded.policy")) {
            ps.setString(1, projection);
            ps.setString(2, change.position().toString());
            ps.setString(3, key.type());
            ps.setString(4, key.json());
            ps.setString(5, describe(change));
            ps.setString(6, error.length() > 4_000 ? error.substring(0, 4_000) + "..." : error);
            ps.setString(7, policy.name().toLowerCase(java.util.Locale.ROOT));
            ps.executeUpdate();
        }
    }

    /** The change as JSON, for people and for a retry. */
    private static String describe(ChangeRow c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("position", c.position().toString());
        m.put("committed_at", c.committedAt().toString());
        m.put("table", c.schema() + "." + c.table());
        m.put("operation", c.operation().name());
        m.put("primary_key", tree(c.primaryKey()));
        m.put("before", tree(c.before()));
        m.put("after", tree(c.after()));
        m.put("context", tree(c.context()));
        try {
            return Json.mapper().writeValueAsString(m);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Object tree(String json) {
        if (json == null) return null;
        try {
            return Json.exact(Json.mapper().reader()).readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            return json;
        }
    }

    static void remove(Connection c, String projection, Position position) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM annals.projection_quarantine WHERE projection = ? AND position = ?")) {
            ps.setString(1, projection);
            ps.setString(2, position.toString());
            ps.executeUpdate();
        }
    }

    static Set<Position> discarded(Connection c, String projection) throws SQLException {
        Set<Position> out = new HashSet<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT position FROM annals.projection_quarantine"
                + " WHERE projection = ? AND discarded")) {
            ps.setString(1, projection);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(Position.parse(rs.getString(1)));
            }
        }
        return out;
    }

    static List<QuarantinedChange> list(Connection c, String projection) throws SQLException {
        List<QuarantinedChange> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT projection, position, canonical_type, canonical_pk::text,"
                + " change::text, error, policy, discarded, quarantined_at FROM annals.projection_quarantine"
                + " WHERE ? IS NULL OR projection = ? ORDER BY projection, position")) {
            ps.setString(1, projection);
            ps.setString(2, projection);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new QuarantinedChange(rs.getString(1), Position.parse(rs.getString(2)), rs.getString(3),
                            rs.getString(4), rs.getString(5), rs.getString(6),
                            FailurePolicy.valueOf(rs.getString(7).toUpperCase(java.util.Locale.ROOT)), rs.getBoolean(8),
                            rs.getObject(9, OffsetDateTime.class).toInstant()));
                }
            }
        }
        return out;
    }

    static boolean discard(Connection c, String projection, Position position) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE annals.projection_quarantine SET discarded = true"
                + " WHERE projection = ? AND position = ?")) {
            ps.setString(1, projection);
            ps.setString(2, position.toString());
            return ps.executeUpdate() == 1;
        }
    }

    static int count(Connection c, String projection) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM annals.projection_quarantine"
                + " WHERE projection = ? AND NOT discarded")) {
            ps.setString(1, projection);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    static void recordManualEdit(Connection c, String projection, ChangeRow change, String canonicalType, String canonicalPk)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO annals.projection_manual_edits (projection, read_table,"
                + " position, operation, canonical_type, canonical_pk, context) VALUES (?, ?, ?, ?, ?, ?::jsonb, ?::jsonb)"
                + " ON CONFLICT (projection, position) DO NOTHING")) {
            ps.setString(1, projection);
            ps.setString(2, change.schema() + "." + change.table());
            ps.setString(3, change.position().toString());
            ps.setString(4, change.operation().name());
            ps.setString(5, canonicalType);
            ps.setString(6, canonicalPk);
            ps.setString(7, change.context());
            ps.executeUpdate();
        }
    }
}
