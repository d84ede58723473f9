package io.annals.capture.snapshot;

import io.annals.capture.CaptureOptions;
import io.annals.capture.ColumnPolicy;
import io.annals.changelog.ChangeLogWriter;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.changelog.Sql;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Records every existing row of the captured tables as a SNAPSHOT change, reading the snapshot
 * that the replication slot exported when it was created. The baseline is therefore exactly the
 * state the stream starts from: no change is in both, and none falls between.
 *
 * <p>Rows are rendered by the source's own {@code to_jsonb}, the same oracle the stream's values
 * are tested against, and streamed with a cursor so that memory stays flat for big tables.
 * Snapshot positions sit just below the slot's consistent point, so they sort before every
 * streamed change.
 */
public final class Snapshotter {

    private static final Logger log = LoggerFactory.getLogger(Snapshotter.class);

    private final CaptureOptions options;
    private final String database;

    public Snapshotter(CaptureOptions options, String database) {
        this.options = options;
        this.database = database;
    }

    /** Takes the snapshot; returns how many rows it recorded. */
    public long run(Connection source, String snapshotName, long consistentPoint, ChangeLogWriter writer) throws SQLException {
        return Sql.inTransaction(source, c -> copy(c, snapshotName, consistentPoint, writer));
    }

    /** Copies every captured table, as the exported snapshot shows it, into the change log. */
    private long copy(Connection source, String snapshotName, long consistentPoint, ChangeLogWriter writer)
            throws SQLException {
        try (Statement s = source.createStatement()) {
            s.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
            s.execute("SET TRANSACTION SNAPSHOT " + Sql.literal(snapshotName));
        }
        long lsn = consistentPoint - 1;
        Instant takenAt = Instant.now();
        long ordinal = 0;
        List<ChangeRow> batch = new ArrayList<>(options.batchSize());
        for (TableShape t : tables(source)) {
            long rows = 0;
            try (Statement s = source.createStatement()) {
                s.setFetchSize(5_000);
                try (ResultSet rs = s.executeQuery(t.query())) {
                    while (rs.next()) {
                        batch.add(new ChangeRow(Position.of(lsn, ordinal++), 0, takenAt, database, t.schema(), t.table(),
                                Operation.SNAPSHOT, rs.getString(1), null, rs.getString(2), null, "{}", withheld(rs.getArray(3))));
                        rows++;
                        if (batch.size() >= options.batchSize()) {
                            writer.write(batch, 0);
                            batch.clear();
                        }
                    }
                }
            }
            log.info("Snapshot of {}.{}: {} rows", t.schema(), t.table(), rows);
        }
        writer.write(batch, 0);
        return ordinal;
    }

    private static List<String> withheld(java.sql.Array names) throws SQLException {
        return names == null ? null : List.of((String[]) names.getArray());
    }

    private record TableShape(String schema, String table, String query) { }

    private List<TableShape> tables(Connection c) throws SQLException {
        List<TableShape> out = new ArrayList<>();
        List<String[]> names = new ArrayList<>();
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT n.nspname, c.relname, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                     + " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT LIKE 'pg\\_%'"
                     + " AND n.nspname <> 'information_schema' ORDER BY 1, 2")) {
            while (rs.next()) {
                if (options.tables().captures(rs.getString(1), rs.getString(2))) {
                    names.add(new String[]{rs.getString(1), rs.getString(2), rs.getString(3)});
                }
            }
        }
        for (String[] n : names) {
            List<String> columns = new ArrayList<>();
            List<String> key = new ArrayList<>();
            List<String> generated = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT a.attname, coalesce((SELECT k.n FROM pg_index i,"
                    + " unnest(i.indkey) WITH ORDINALITY k(attnum, n) WHERE i.indrelid = a.attrelid AND i.indisprimary"
                    + " AND k.attnum = a.attnum), 0), a.attgenerated <> '' FROM pg_attribute a WHERE a.attrelid = ?::oid AND a.attnum > 0"
                    + " AND NOT a.attisdropped ORDER BY a.attnum")) {
                ps.setString(1, n[2]);
                try (ResultSet rs = ps.executeQuery()) {
                    List<String[]> keyed = new ArrayList<>();
                    while (rs.next()) {
                        columns.add(rs.getString(1));
                        if (rs.getBoolean(3)) generated.add(rs.getString(1));
                        if (rs.getInt(2) > 0) keyed.add(new String[]{rs.getString(2), rs.getString(1)});
                    }
                    keyed.sort((x, y) -> Integer.compare(Integer.parseInt(x[0]), Integer.parseInt(y[0])));
                    for (String[] k : keyed) key.add(k[1]);
                }
            }
            out.add(new TableShape(n[0], n[1], query(n[0], n[1], columns, key, generated)));
        }
        return out;
    }

    private String query(String schema, String table, List<String> columns, List<String> key, List<String> generated) {
        StringBuilder image = new StringBuilder("to_jsonb(t)");
        // The withheld columns: omitted ones, and masked ones that hold a value (a NULL is stored as
        // NULL, a value the log knows).
        StringBuilder withheld = new StringBuilder();
        for (String col : columns) {
            // pgoutput does not send generated columns (PostgreSQL 18 only does when the publication
            // asks), so the snapshot leaves them out too: one row, one shape, whichever way it came.
            if (generated.contains(col)) {
                image.append(" - ").append(Sql.literal(col));
                continue;
            }
            switch (options.columns().treatment(schema, table, col)) {
                case OMIT -> {
                    image.append(" - ").append(Sql.literal(col));
                    withheld.append(withheld.isEmpty() ? "" : ", ").append(Sql.literal(col));
                }
                case MASK -> {
                    image.append(" || jsonb_build_object(").append(Sql.literal(col)).append(", CASE WHEN t.")
                            .append(Sql.identifier(col)).append(" IS NULL THEN NULL ELSE '****' END)");
                    withheld.append(withheld.isEmpty() ? "" : ", ").append("CASE WHEN t.").append(Sql.identifier(col))
                            .append(" IS NOT NULL THEN ").append(Sql.literal(col)).append(" END");
                }
                case STORE -> { }
            }
        }
        String pk = "NULL";
        if (!key.isEmpty()) {
            StringBuilder k = new StringBuilder("jsonb_build_object(");
            for (int i = 0; i < key.size(); i++) {
                if (i > 0) k.append(", ");
                String col = key.get(i);
                k.append(Sql.literal(col)).append(", ");
                if (options.columns().treatment(schema, table, col) == ColumnPolicy.Treatment.MASK) {
                    k.append("'****'");
                } else {
                    k.append("t.").append(Sql.identifier(col));
                }
            }
            pk = k.append(")").toString();
        }
        String withheldList = withheld.isEmpty() ? "NULL::text[]"
                : "NULLIF(array_remove(ARRAY[" + withheld + "]::text[], NULL), '{}')";
        return "SELECT (" + pk + ")::text, (" + image + ")::text, " + withheldList
                + " FROM " + Sql.qualified(schema, table) + " t";
    }
}
