package io.annals.capture.source;

import io.annals.capture.CaptureException;
import io.annals.capture.CaptureOptions;
import io.annals.capture.ColumnPolicy;
import io.annals.changelog.Sql;
import org.postgresql.PGConnection;
import org.postgresql.replication.ReplicationSlotInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks that the source can be captured from, and creates the publication and slot when they are
 * missing. Every refusal names the fix.
 */
public final class SourceSetup {

    private static final Logger log = LoggerFactory.getLogger(SourceSetup.class);

    /** What is known about the source after the checks. */
    public record SourceInfo(int serverVersionNum, String database, boolean superuser) {
        public int major() {
            return serverVersionNum / 10000;
        }

        /** The newest pgoutput protocol the server speaks. */
        public int protocolVersion() {
            int major = major();
            if (major >= 16) return 4;
            if (major == 15) return 3;
            if (major == 14) return 2;
            return 1;
        }
    }

    /** The slot as pg_replication_slots shows it, or absent. */
    record SlotState(String plugin, String database, boolean active, Integer activePid, long confirmedFlushLsn) { }

    private final CaptureOptions options;

    SourceSetup(CaptureOptions options) {
        this.options = options;
    }

    SourceInfo check(Connection c) throws SQLException {
        int version;
        String database;
        boolean superuser;
        boolean replication;
        String user;
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_setting('server_version_num')::int, current_database(),"
                     + " r.rolsuper, r.rolreplication, current_user, current_setting('wal_level')"
                     + " FROM pg_roles r WHERE r.rolname = current_user")) {
            rs.next();
            version = rs.getInt(1);
            database = rs.getString(2);
            superuser = rs.getBoolean(3);
            replication = rs.getBoolean(4);
            user = rs.getString(5);
            String walLevel = rs.getString(6);
            if (!"logical".equals(walLevel)) {
                throw new CaptureException("The source's wal_level is '" + walLevel + "', but capture needs 'logical'."
                        + " Run  ALTER SYSTEM SET wal_level = logical;  as a superuser and restart PostgreSQL"
                        + " (for example: pg_ctlcluster <version> main restart).");
            }
        }
        if (version < 100000) {
            throw new CaptureException("The source runs PostgreSQL " + version / 10000
                    + "; Annals needs PostgreSQL 10 or later (14 or later for streamed large transactions).");
        }
        if (!superuser && !replication) {
            throw new CaptureException("Role '" + user + "' may not use logical replication."
                    + " Run  ALTER ROLE " + Sql.identifier(user) + " REPLICATION;  as a superuser, or use a role that has it.");
        }
        return new SourceInfo(version, database, superuser);
    }

    /**
     * Creates the publication when missing. A superuser gets the user schemas (PostgreSQL 15+, kept
     * complete by an event trigger) or FOR ALL TABLES, with include and exclude patterns applied by
     * the worker, so that tables created later are captured as soon as they appear. Otherwise the
     * publication lists the matching tables, each start adds tables that match the patterns but are
     * not yet published, and a warning says so, since tables created in between are missed.
     */
    void ensurePublication(Connection c, SourceInfo info) throws SQLException {
        Boolean allTables = null;
        try (PreparedStatement ps = c.prepareStatement("SELECT puballtables FROM pg_publication WHERE pubname = ?")) {
            ps.setString(1, options.publicationName());
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) allTables = rs.getBoolean(1);
            }
        }
        String name = Sql.identifier(options.publicationName());
        List<String> tables = capturedTables(c);
        if (!options.tables().includes().isEmpty() && tables.isEmpty()) {
            throw new CaptureException("No table matches the include patterns " + options.tables().includes()
                    + ". Check the names, or leave --include out to capture every table.");
        }
        boolean bySchema = info.superuser() && info.major() >= 15;
        if (allTables == null) {
            List<String> schemas = bySchema ? userSchemas(c) : List.of();
            String sql = !schemas.isEmpty()
                    ? "CREATE PUBLICATION " + name + " FOR TABLES IN SCHEMA " + String.join(", ", schemas)
                    : info.superuser() || options.tables().includes().isEmpty()
                    ? "CREATE PUBLICATION " + name + " FOR ALL TABLES"
                    : "CREATE PUBLICATION " + name + " FOR TABLE " + String.join(", ", tables);
            try (Statement s = c.createStatement()) {
                s.execute(sql);
                log.info("Created publication {}", options.publicationName());
            } catch (SQLException e) {
                if ("42501".equals(e.getSQLState())) {
                    throw new CaptureException("Could not create publication '" + options.publicationName() + "': "
                            + e.getMessage() + ". FOR ALL TABLES needs a superuser; run the worker as one once, pass --include"
                            + " to publish only some tables, or create it yourself:  " + sql + ";", e);
                }
                throw e;
            }
        } else if (!allTables && publishesSchemas(c)) {
            for (String schema : userSchemas(c)) {
                try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_publication_namespace pn"
                        + " JOIN pg_publication p ON p.oid = pn.pnpubid WHERE p.pubname = ? AND pn.pnnspid = ?::regnamespace")) {
                    ps.setString(1, options.publicationName());
                    ps.setString(2, schema);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (rs.next()) continue;
                    }
                }
                try (Statement s = c.createStatement()) {
                    s.execute("ALTER PUBLICATION " + name + " ADD TABLES IN SCHEMA " + schema);
                    log.info("Added schema {} to publication {}", schema, options.publicationName());
                }
            }
        } else if (!allTables) {
            List<String> published = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT quote_ident(schemaname) || '.' || quote_ident(tablename)"
                    + " FROM pg_publication_tables WHERE pubname = ?")) {
                ps.setString(1, options.publicationName());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) published.add(rs.getString(1));
                }
            }
            for (String table : tables) {
                String plain = table.replaceAll("\"([a-z_][a-z0-9_]*)\"", "$1");
                if (published.contains(plain) || published.contains(table)) continue;
                try (Statement s = c.createStatement()) {
                    s.execute("ALTER PUBLICATION " + name + " ADD TABLE " + table);
                    log.info("Added {} to publication {}", table, options.publicationName());
                } catch (SQLException e) {
                    throw new CaptureException("Could not add " + table + " to publication '" + options.publicationName()
                            + "': " + e.getMessage() + ". Run  ALTER PUBLICATION " + name + " ADD TABLE " + table
                            + ";  as the table's owner.", e);
                }
            }
        }
        if (listsTables(c, options.publicationName(), info)) {
            log.warn("Publication {} lists its tables one by one, so a table created later{} is captured only from"
                    + " when it is added: restart the worker after creating one, so that it adds it, or run"
                    + "  ALTER PUBLICATION {} ADD TABLE <schema.table>;  as the table's owner. To capture new tables as they"
                    + " appear, run  DROP PUBLICATION {};  and start the worker once as a superuser: it publishes {} instead.",
                    options.publicationName(), describeIncludes(), name, name,
                    info.major() >= 15 ? "whole schemas" : "ALL TABLES");
        }
    }

    /**
     * Whether the publication names its tables one by one, rather than ALL TABLES or whole schemas
     * (PostgreSQL 15+), so that a table created later stays out of it until someone adds it.
     */
    static boolean listsTables(Connection c, String publication, SourceInfo info) throws SQLException {
        String sql = info.major() >= 15
                ? "SELECT NOT p.puballtables AND NOT EXISTS (SELECT 1 FROM pg_publication_namespace pn WHERE pn.pnpubid = p.oid)"
                        + " FROM pg_publication p WHERE p.pubname = ?"
                : "SELECT NOT p.puballtables FROM pg_publication p WHERE p.pubname = ?";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, publication);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    private String describeIncludes() {
        List<String> includes = options.tables().includes();
        return includes.isEmpty() ? "" : " (matching --include " + String.join(", ", includes) + ")";
    }

    /**
     * Primary-key columns identify rows in the change log, so they can be neither omitted nor
     * masked. Checked before anything is written (the snapshot included).
     */
    void checkColumnPolicy(Connection c) throws SQLException {
        if (options.columns().omit().isEmpty() && options.columns().mask().isEmpty()) return;
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT n.nspname, c.relname, a.attname FROM pg_index i"
                     + " JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
                     + " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
                     + " WHERE i.indisprimary AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'")) {
            while (rs.next()) {
                String schema = rs.getString(1), table = rs.getString(2), column = rs.getString(3);
                if (!options.tables().captures(schema, table)) continue;
                ColumnPolicy.Treatment t = options.columns().treatment(schema, table, column);
                if (t != ColumnPolicy.Treatment.STORE) {
                    throw new CaptureException("Column " + schema + "." + table + "." + column
                            + " is part of the primary key, so it identifies rows in the change log and cannot be "
                            + (t == ColumnPolicy.Treatment.OMIT ? "omitted" : "masked") + "; narrow the column pattern.");
                }
            }
        }
    }

    /**
     * User schemas, quoted, except the change log's own. Publishing them (PostgreSQL 15+) instead
     * of ALL TABLES keeps the change log's own inserts out of the stream when it lives in the source
     * database: otherwise the server decodes, renders and sends every stored change back to us.
     */
    private static List<String> userSchemas(Connection c) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT quote_ident(nspname) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
                     + " AND nspname NOT IN ('information_schema', 'annals') ORDER BY 1")) {
            while (rs.next()) out.add(rs.getString(1));
        }
        return out;
    }

    private boolean publishesSchemas(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_publication_namespace pn"
                + " JOIN pg_publication p ON p.oid = pn.pnpubid WHERE p.pubname = ?")) {
            ps.setString(1, options.publicationName());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        } catch (SQLException e) {
            return false; // before PostgreSQL 15 there is no pg_publication_namespace
        }
    }

    /** Captured user tables, as quoted {@code schema.table} names. */
    List<String> capturedTables(Connection c) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                     + " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT LIKE 'pg\\_%'"
                     + " AND n.nspname <> 'information_schema' ORDER BY 1, 2")) {
            while (rs.next()) {
                if (options.tables().captures(rs.getString(1), rs.getString(2))) {
                    out.add(Sql.qualified(rs.getString(1), rs.getString(2)));
                }
            }
        }
        return out;
    }

    /**
     * Tables in a FOR ALL TABLES publication must have a replica identity, or PostgreSQL rejects
     * their UPDATEs and DELETEs; a table without a primary key gets REPLICA IDENTITY FULL so the
     * application keeps working. With {@code --replica-identity full}, every captured table does.
     */
    void ensureReplicaIdentity(Connection c) throws SQLException {
        String filter = options.replicaIdentityFull() ? "c.relreplident <> 'f'"
                : "c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)";
        List<String> toAlter = new ArrayList<>();
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                     + " WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'"
                     + " AND " + filter)) {
            while (rs.next()) {
                if (options.tables().captures(rs.getString(1), rs.getString(2))) {
                    toAlter.add(Sql.qualified(rs.getString(1), rs.getString(2)));
                }
            }
        }
        for (String table : toAlter) {
            try (Statement s = c.createStatement()) {
                s.execute("ALTER TABLE " + table + " REPLICA IDENTITY FULL");
                log.info("Set REPLICA IDENTITY FULL on {}{}", table,
                        options.replicaIdentityFull() ? "" : " (it has no primary key)");
            } catch (SQLException e) {
                throw new CaptureException("Could not set REPLICA IDENTITY FULL on " + table + ": " + e.getMessage()
                        + ". Run it as the table's owner:  ALTER TABLE " + table + " REPLICA IDENTITY FULL;", e);
            }
        }
    }

    /**
     * Tables created later need the same care, or the application's first UPDATE of a new table
     * without a primary key fails. An event trigger (superuser only) sets REPLICA IDENTITY FULL on
     * them as they are created or lose their primary key.
     */
    void ensureReplicaIdentityTrigger(Connection c, SourceInfo info) throws SQLException {
        if (!info.superuser()) {
            log.warn("Not a superuser, so no event trigger can keep new tables capturable: a table created later"
                    + " without a primary key needs  ALTER TABLE ... REPLICA IDENTITY FULL  before its UPDATEs and DELETEs work.");
            return;
        }
        String condition = options.replicaIdentityFull() ? "c.relreplident <> 'f'"
                : "c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)";
        try (Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA IF NOT EXISTS annals");
            s.execute("CREATE OR REPLACE FUNCTION annals.keep_replica_identity() RETURNS event_trigger LANGUAGE plpgsql AS $fn$"
                    + " DECLARE r record; BEGIN"
                    + " FOR r IN SELECT DISTINCT d.objid FROM pg_event_trigger_ddl_commands() d"
                    + "   JOIN pg_class c ON c.oid = d.objid JOIN pg_namespace n ON n.oid = c.relnamespace"
                    + "   WHERE d.object_type IN ('table', 'table column', 'table constraint') AND c.relkind IN ('r', 'p')"
                    + "   AND n.nspname <> 'annals' AND " + condition + " LOOP"
                    + "   EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', r.objid::regclass);"
                    + " END LOOP; END $fn$");
            if (info.major() >= 15) {
                // A schema-scoped publication must grow with new schemas. SECURITY DEFINER: the
                // DDL may come from a role that may not alter the publication itself.
                s.execute("CREATE OR REPLACE FUNCTION annals.publish_new_schemas() RETURNS event_trigger LANGUAGE plpgsql"
                        + " SECURITY DEFINER SET search_path = pg_catalog AS $fn$ DECLARE r record; BEGIN"
                        + " FOR r IN SELECT p.pubname, n.nspname FROM pg_event_trigger_ddl_commands() d"
                        + "   JOIN pg_namespace n ON n.oid = d.objid, pg_publication p"
                        + "   WHERE d.object_type = 'schema' AND NOT p.puballtables"
                        + "   AND EXISTS (SELECT 1 FROM pg_publication_namespace pn WHERE pn.pnpubid = p.oid)"
                        + "   AND p.pubname = " + Sql.literal(options.publicationName()) + " LOOP"
                        + "   EXECUTE format('ALTER PUBLICATION %I ADD TABLES IN SCHEMA %I', r.pubname, r.nspname);"
                        + " END LOOP; END $fn$");
                createEventTrigger(s, "annals_publish_new_schemas", "'CREATE SCHEMA'", "annals.publish_new_schemas()");
            }
            createEventTrigger(s, "annals_keep_replica_identity", "'CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE'",
                    "annals.keep_replica_identity()");
        }
    }

    /**
     * How long a slot still held by a server process is waited for. After a worker is killed the
     * server notices the dead connection within moments; a restart should not fail in that window.
     */
    static final java.time.Duration SLOT_RELEASE_WAIT = java.time.Duration.ofSeconds(10);

    SlotState slot(Connection c, SourceInfo info) throws SQLException {
        long deadline = System.nanoTime() + SLOT_RELEASE_WAIT.toNanos();
        while (true) {
            SlotState slot = slotOnce(c, info);
            if (slot == null || !slot.active()) return slot;
            if (System.nanoTime() > deadline) throw slotInUse(slot.activePid());
            java.util.concurrent.locks.LockSupport.parkNanos(200_000_000L);
        }
    }

    private SlotState slotOnce(Connection c, SourceInfo info) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT plugin, database, active, active_pid,"
                + " coalesce(confirmed_flush_lsn, '0/0') - '0/0'::pg_lsn FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, options.slotName());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) return null;
                SlotState slot = new SlotState(rs.getString(1), rs.getString(2), rs.getBoolean(3),
                        (Integer) rs.getObject(4), rs.getLong(5));
                if (!"pgoutput".equals(slot.plugin()) || !info.database().equals(slot.database())) {
                    throw new CaptureException("Replication slot '" + options.slotName() + "' exists but belongs to database '"
                            + slot.database() + "' with plugin '" + slot.plugin() + "'. Choose another name with --slot.");
                }
                return slot;
            }
        }
    }

    CaptureException slotInUse(Integer pid) {
        return new CaptureException("Replication slot '" + options.slotName() + "' is in use by server process "
                + (pid == null ? "?" : pid) + ": another capture worker is running against this database."
                + " Stop it first, or give this one its own slot with --slot <name>.");
    }

    /**
     * Creates the slot on {@code replication} (a replication-protocol connection). The slot exports
     * a snapshot that stays usable until that connection runs another command or closes.
     */
    ReplicationSlotInfo createSlot(Connection replication) throws SQLException {
        ReplicationSlotInfo info = replication.unwrap(PGConnection.class).getReplicationAPI()
                .createReplicationSlot().logical()
                .withSlotName(options.slotName())
                .withOutputPlugin("pgoutput")
                .make();
        log.info("Created replication slot {} at {}", options.slotName(), info.getConsistentPoint());
        return info;
    }

    private static void createEventTrigger(Statement s, String name, String tags, String function) throws SQLException {
        try (ResultSet rs = s.executeQuery("SELECT 1 FROM pg_event_trigger WHERE evtname = " + Sql.literal(name))) {
            if (rs.next()) return;
        }
        s.execute("CREATE EVENT TRIGGER " + name + " ON ddl_command_end WHEN TAG IN (" + tags + ") EXECUTE FUNCTION " + function);
    }
}
