package io.annals.replication.master;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.annals.changelog.Json;
import io.annals.changelog.Sql;
import io.annals.replication.ReplicationException;
import org.flywaydb.core.Flyway;

import javax.sql.DataSource;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;

/**
 * The master's revision of each replicated row, in {@code annals.cqrs_revisions} of the database
 * that holds the master's feed checkpoint, written in the feed's transaction: revisions and
 * checkpoint commit together, so a batch sent again after a crash carries the same revisions and
 * replicas drop it as a duplicate.
 *
 * <pre>{@code
 * Map<String, Revisions.State> known = Revisions.load(tx, "author", List.of("1", "2"));
 * int next = Revisions.next(known.get("1"), "author", "1");    // 0 for a row never sent
 * Revisions.store(tx, "author", Map.of("1", new Revisions.State(next, false, committedAt, null)));
 * }</pre>
 */
public final class Revisions {

    /**
     * The state of one row: its last revision, whether that change deleted it, when it was, and
     * the {@code previous_data} fields as last sent (compact JSON, or null).
     */
    public record State(int revision, boolean deleted, Instant updated, String tracked) {
    }

    private Revisions() {
    }

    /** Creates or upgrades {@code annals.cqrs_revisions}, with its own Flyway history ({@code annals.cqrs_schema_history}). */
    public static void migrate(DataSource dataSource) {
        Flyway.configure()
                .dataSource(dataSource)
                .schemas("annals")
                .createSchemas(true)
                .table("cqrs_schema_history")
                // Schema annals may already hold the change log, the event store or feed checkpoints.
                .baselineOnMigrate(true)
                .baselineVersion("0")
                .locations("classpath:io/annals/replication/migration")
                .load()
                .migrate();
    }

    /** The states of {@code pks} (compact JSON texts) of {@code cqrsId}; absent ones were never sent. */
    public static Map<String, State> load(Connection tx, String cqrsId, Collection<String> pks) throws SQLException {
        Map<String, State> out = new HashMap<>();
        if (pks.isEmpty()) return out;
        try (PreparedStatement ps = tx.prepareStatement(
                "SELECT pk, revision, deleted, updated, tracked::text FROM annals.cqrs_revisions WHERE cqrs_id = ? AND pk = ANY(?)")) {
            ps.setString(1, cqrsId);
            Array array = tx.createArrayOf("text", pks.toArray());
            ps.setArray(2, array);
            readStates(ps, out);
        }
        return out;
    }

    /** Every row of {@code cqrsId} whose last change did not delete it (what a TRUNCATE deletes). */
    public static Map<String, State> live(Connection tx, String cqrsId) throws SQLException {
        Map<String, State> out = new HashMap<>();
        try (PreparedStatement ps = tx.prepareStatement(
                "SELECT pk, revision, deleted, updated, tracked::text FROM annals.cqrs_revisions WHERE cqrs_id = ? AND NOT deleted")) {
            ps.setString(1, cqrsId);
            readStates(ps, out);
        }
        return out;
    }

    /** Stores {@code states} of {@code cqrsId} (pk text → state) in one statement. */
    public static void store(Connection tx, String cqrsId, Map<String, State> states) throws SQLException {
        if (states.isEmpty()) return;
        int n = states.size();
        Object[] pks = new Object[n];
        Object[] revisions = new Object[n];
        Object[] deleted = new Object[n];
        Object[] updated = new Object[n];
        Object[] tracked = new Object[n];
        int i = 0;
        for (Map.Entry<String, State> e : states.entrySet()) {
            pks[i] = e.getKey();
            revisions[i] = e.getValue().revision();
            deleted[i] = e.getValue().deleted();
            updated[i] = Timestamp.from(e.getValue().updated());
            tracked[i] = e.getValue().tracked();
            i++;
        }
        try (PreparedStatement ps = tx.prepareStatement("""
                INSERT INTO annals.cqrs_revisions (cqrs_id, pk, revision, deleted, updated, tracked)
                SELECT ?, * FROM unnest(?::text[], ?::int[], ?::bool[], ?::timestamptz[], ?::jsonb[])
                ON CONFLICT (cqrs_id, pk) DO UPDATE
                SET revision = EXCLUDED.revision, deleted = EXCLUDED.deleted, updated = EXCLUDED.updated,
                    tracked = EXCLUDED.tracked""")) {
            ps.setString(1, cqrsId);
            ps.setArray(2, tx.createArrayOf("text", pks));
            ps.setArray(3, tx.createArrayOf("int4", revisions));
            ps.setArray(4, tx.createArrayOf("bool", deleted));
            ps.setArray(5, tx.createArrayOf("timestamptz", updated));
            ps.setArray(6, tx.createArrayOf("text", tracked));
            ps.executeUpdate();
        }
    }

    /** The next revision after {@code state} (0 for a row never sent), refusing to overflow a 32-bit int. */
    public static int next(State state, String cqrsId, String pk) {
        if (state == null) return 0;
        if (state.revision() == Integer.MAX_VALUE) {
            throw new ReplicationException(cqrsId + " " + pk + " has reached revision " + Integer.MAX_VALUE + ", the largest a Django"
                    + " replica's 32-bit cqrs_revision can hold; reset it with UPDATE annals.cqrs_revisions SET revision = 0 WHERE"
                    + " cqrs_id = " + Sql.literal(cqrsId) + " AND pk = " + Sql.literal(pk) + " and sync the row to every replica");
        }
        return state.revision() + 1;
    }

    /** The text a key is stored under: its compact JSON. */
    public static String keyText(JsonNode pk) {
        try {
            return Json.mapper().writeValueAsString(pk);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void readStates(PreparedStatement ps, Map<String, State> out) throws SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                out.put(rs.getString(1), new State(rs.getInt(2), rs.getBoolean(3), rs.getTimestamp(4).toInstant(), rs.getString(5)));
            }
        }
    }
}
