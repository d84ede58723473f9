package io.annals.projections;

import io.annals.changelog.ChangeLog;
import io.annals.changelog.Sql;
import io.annals.changelog.feed.ChangeFeed;
import io.annals.projections.Projection.Source;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Rebuild: fill a shadow of the read table from a consistent snapshot of the sources, bring it
 * up to date from the change log, and swap it in, handing its checkpoint to the live projection.
 *
 * <p>Why there is no gap and no double apply: the feed's {@linkplain ChangeFeed.Mark mark} is
 * taken before the snapshot, so every change up to it is in the snapshot; the shadow's own feed
 * applies every change after it (re-applying one the snapshot already shows replaces a key's rows
 * with the same rows). The swap renames the tables and moves the shadow feed's checkpoint to the
 * live projection in one transaction, under the projection's lock: the live projector then
 * resumes from exactly what the new table holds.
 */
final class Rebuild {

    private Rebuild() {
    }

    static long run(Bound b, ChangeLog log, DataSource sourceDs, DataSource outputDs, Projections.Progress progress,
                    Duration catchUpTimeout) throws Exception {
        TableRef live = b.projection.target().table();
        TableRef shadow = new TableRef(live.schema(), shorten(live.name() + "_annals_rebuild"));
        TableRef old = new TableRef(live.schema(), shorten(live.name() + "_annals_old"));
        String rebuildFeed = b.projection.feedName() + "#rebuild";
        // One rebuild of a projection at a time: a second would drop the first one's shadow table.
        try (Connection guard = outputDs.getConnection()) {
            try (PreparedStatement ps = guard.prepareStatement("SELECT pg_try_advisory_lock(?, hashtext(?))")) {
                ps.setInt(1, REBUILD_LOCK_CLASS);
                ps.setString(2, b.name());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (!rs.getBoolean(1)) {
                        throw new ProjectionException("Projection " + b.name() + " is being rebuilt by another process;"
                                + " wait for it to finish");
                    }
                }
            }
            return rebuild(b, log, sourceDs, outputDs, progress, catchUpTimeout, live, shadow, old, rebuildFeed);
        }
    }

    /** The advisory lock class a rebuild holds (in its session) for its projection. */
    private static final int REBUILD_LOCK_CLASS = 1_095_651_923;

    private static long rebuild(Bound b, ChangeLog log, DataSource sourceDs, DataSource outputDs, Projections.Progress progress,
                                Duration catchUpTimeout, TableRef live, TableRef shadow, TableRef old, String rebuildFeed)
            throws Exception {
        try (Connection out = outputDs.getConnection(); Statement st = out.createStatement()) {
            out.setAutoCommit(true);
            st.execute("DROP TABLE IF EXISTS " + shadow.sql());
            st.execute("CREATE TABLE " + shadow.sql() + " (LIKE " + live.sql() + " INCLUDING ALL)");
            // LIKE copies neither the replica identity (without which a published table refuses deletes) ...
            try (ResultSet rs = st.executeQuery("SELECT relreplident FROM pg_class WHERE oid = " + Sql.literal(live.sql()) + "::regclass")) {
                if (rs.next() && "f".equals(rs.getString(1))) {
                    st.execute("ALTER TABLE " + shadow.sql() + " REPLICA IDENTITY FULL");
                }
            }
            ChangeFeed.dropCheckpoint(out, rebuildFeed); // a rebuild killed earlier left its feed's checkpoint
        }
        ChangeFeed.forget(log, rebuildFeed);
        ChangeFeed.Mark mark = ChangeFeed.mark(log);
        Output writer = new Output(b, shadow);
        long rows = 0;
        try (Connection src = sourceDs.getConnection(); Connection out = outputDs.getConnection()) {
            src.setAutoCommit(false);
            src.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            src.setReadOnly(true);
            out.setAutoCommit(false);
            long total = 0;
            for (Source s : b.projection.sources()) total += count(src, s);
            long[] done = {0};
            long[] written = {0};
            long totalRows = total;
            progress.update(0, totalRows);
            for (Source s : b.projection.sources()) {
                Derivation.KeyChunks write = keys -> {
                    Map<CanonicalKey, List<Map<String, Object>>> derived = Derivation.query(src, b, s, keys);
                    Runner.begin(out, b.name(), Runner.marker(b.name(), "rebuild"));
                    writer.insert(out, derived);
                    out.commit();
                    for (List<Map<String, Object>> r : derived.values()) written[0] += r.size();
                    done[0] += keys.size();
                    progress.update(done[0], totalRows);
                };
                if (s.isSql()) {
                    Derivation.allKeys(src, b, s, Runner.CHUNK, write);
                    continue;
                }
                Derivation.allRows(src, b, s, Runner.CHUNK, rowsByKey -> {
                    Map<CanonicalKey, List<Map<String, Object>>> derived = map(b, s, rowsByKey);
                    Runner.begin(out, b.name(), Runner.marker(b.name(), "rebuild"));
                    writer.insert(out, derived);
                    out.commit();
                    for (List<Map<String, Object>> r : derived.values()) written[0] += r.size();
                    done[0] += rowsByKey.size();
                    progress.update(done[0], totalRows);
                });
            }
            src.commit();
            rows = written[0];
        }
        // Bring the shadow up to date from the log, then swap it in.
        Runner shadowRunner = new Runner(b, writer, outputDs, sourceDs, null);
        shadowRunner.loadQuarantine();
        List<String> tables = new java.util.ArrayList<>(List.of(b.feedTables()));
        tables.remove(live.toString());
        try (ChangeFeed feed = ChangeFeed.from(log).named(rebuildFeed).tables(tables.toArray(String[]::new))
                .startingAfter(mark).backoff(Duration.ofMillis(200), Duration.ofSeconds(5))
                .startTransactional(outputDs, shadowRunner::handle)) {
            if (!feed.awaitCaughtUp(catchUpTimeout)) {
                throw new ProjectionException("Projection " + b.name() + ": the rebuilt table did not catch up with the"
                        + " change log within " + catchUpTimeout.toSeconds() + " s" + feed.failure().map(f -> " (" + f.getMessage()
                        + ")").orElse("") + "; the live table is untouched, run the rebuild again");
            }
        } finally {
            shadowRunner.closeSource();
        }
        try (Connection out = outputDs.getConnection()) {
            out.setAutoCommit(false);
            Runner.begin(out, b.name(), Runner.marker(b.name(), "rebuild"));
            try (Statement st = out.createStatement()) {
                // ... nor the ownership of serial columns' sequences, which the shadow's defaults still use:
                // hand them to the shadow, or dropping the old table would take them along.
                List<String> owned = new java.util.ArrayList<>();
                try (ResultSet rs = st.executeQuery("SELECT quote_ident(n.nspname) || '.' || quote_ident(q.relname),"
                        + " quote_ident(a.attname) FROM pg_depend d JOIN pg_class q ON q.oid = d.objid AND q.relkind = 'S'"
                        + " JOIN pg_namespace n ON n.oid = q.relnamespace JOIN pg_attribute a ON a.attrelid = d.refobjid"
                        + " AND a.attnum = d.refobjsubid WHERE d.refobjid = " + Sql.literal(live.sql()) + "::regclass"
                        + " AND d.deptype = 'a'")) {
                    while (rs.next()) owned.add("ALTER SEQUENCE " + rs.getString(1) + " OWNED BY " + shadow.sql() + "." + rs.getString(2));
                }
                for (String sql : owned) st.execute(sql);
                st.execute("ALTER TABLE " + live.sql() + " RENAME TO " + Sql.identifier(old.name()));
                st.execute("ALTER TABLE " + shadow.sql() + " RENAME TO " + Sql.identifier(live.name()));
                st.execute("DROP TABLE " + old.sql());
            }
            ChangeFeed.handOver(out, rebuildFeed, b.projection.feedName());
            out.commit();
        }
        ChangeFeed.forget(log, rebuildFeed);
        return rows;
    }

    private static Map<CanonicalKey, List<Map<String, Object>>> map(Bound b, Source s, Map<CanonicalKey, String> rows) {
        Map<CanonicalKey, List<Map<String, Object>>> out = new LinkedHashMap<>();
        for (Map.Entry<CanonicalKey, String> e : rows.entrySet()) {
            try {
                out.put(e.getKey(), Derivation.map(b, s, e.getKey(), e.getValue()));
            } catch (Derivation.MappingFailure f) {
                throw new ProjectionException("Projection " + b.name() + ": its mapping fails on the current row of "
                        + s.table() + " " + e.getKey().json() + ", so the rebuild stopped (the live table is untouched): "
                        + f.getMessage(), f);
            }
        }
        return out;
    }

    private static long count(Connection src, Source s) throws SQLException {
        try (Statement st = src.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM " + s.table().sql())) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String shorten(String name) {
        // PostgreSQL cuts names at 63 bytes; cut them ourselves, so that the name we use is the one it keeps.
        return name.length() <= 63 ? name : name.substring(0, 50) + Integer.toHexString(name.hashCode());
    }
}
