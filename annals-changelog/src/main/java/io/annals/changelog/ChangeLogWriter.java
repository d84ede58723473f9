package io.annals.changelog;

import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.postgresql.copy.CopyManager;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;

/**
 * Appends batches of changes to {@code annals.changes}, each batch together with its consumer's
 * checkpoint in one transaction: either both are stored or neither is. That is what makes a
 * restart after a crash resume with nothing lost and nothing stored twice.
 *
 * <p>Rows go in through {@code COPY ... FROM STDIN} in text format, which is several times faster
 * than batched INSERTs, and the batch is streamed to the server in 64 KiB chunks so that memory
 * does not grow with the batch.
 *
 * <pre>{@code
 * try (ChangeLogWriter w = log.openWriter("annals", c -> {})) {
 *     w.write(rows, commitEndLsn);
 * }
 * }</pre>
 *
 * <p>Before rows go in, the writer makes sure {@code annals.changes} has partitions for their
 * commit times, creating missing ones in a short transaction of their own (see
 * {@link ChangeLog#preparePartitions}); known partitions are cached, so this usually costs nothing.
 *
 * <p>Not thread-safe: one writer per thread.
 */
public final class ChangeLogWriter implements AutoCloseable {

    private static final String COPY_SQL = "COPY annals.changes (position, transaction_id, committed_at, database,"
            + " \"schema\", \"table\", operation, primary_key, before, after, changed_columns, context, withheld)"
            + " FROM STDIN";
    /**
     * For a batch in which no change has a context, nearly every batch: the column's default
     * ({@code '{}'}) is a constant the server evaluates once, where a sent {@code {}} is parsed as
     * jsonb for every row (measured: about 3 % of the server's COPY time).
     */
    private static final String COPY_NO_CONTEXT_SQL = "COPY annals.changes (position, transaction_id, committed_at, database,"
            + " \"schema\", \"table\", operation, primary_key, before, after, changed_columns, withheld)"
            + " FROM STDIN";
    private static final String EMPTY_CONTEXT = "{}";
    private static final int CHUNK = 64 * 1024;
    /**
     * Rows {@link #append} commits at a time: enough that a commit costs nothing beside them, few
     * enough that the append lock is never held for long and readers see a bulk load progress.
     */
    static final int APPEND_ROWS_PER_TRANSACTION = 100_000;

    private final Connection connection;
    private final String consumer;
    private final CopyManager copyManager;
    private final PreparedStatement saveCheckpoint;
    private final Partitions partitions;
    private final StringBuilder text = new StringBuilder(CHUNK + 4096);
    /** The text of the last commit time written: rows of one transaction share it, and formatting an Instant is slow. */
    private java.time.Instant lastCommitTime;
    private String lastCommitTimeText;
    private CrashPoint crashPoint = CrashPoint.NONE;
    /** Wakes change feeds after each commit that stored changes. */
    private final CommitNotifier notifier;
    private long commits;
    private PreparedStatement lockAppends;
    /** {@link ChangeLog#LOCK_APPENDS_SQL} and {@link #CHECKPOINT_SQL} as one statement: one round trip per batch. */
    private final PreparedStatement lockAndSaveCheckpoint;

    ChangeLogWriter(Connection connection, String consumer, Partitions partitions, CommitNotifier notifier)
            throws SQLException {
        this.connection = connection;
        this.consumer = consumer;
        this.partitions = partitions;
        this.notifier = notifier;
        connection.setAutoCommit(false);
        this.copyManager = connection.unwrap(PGConnection.class).getCopyAPI();
        this.saveCheckpoint = connection.prepareStatement(CHECKPOINT_SQL);
        // pgjdbc sends the two statements of one prepared string together, with one Sync.
        this.lockAndSaveCheckpoint = connection.prepareStatement(ChangeLog.LOCK_APPENDS_SQL + "; " + CHECKPOINT_SQL);
    }

    private static final String CHECKPOINT_SQL = "INSERT INTO annals.checkpoints AS cp (consumer, position, confirmed_lsn, updated_at)"
            + " VALUES (?, ?, ?::pg_lsn, now())"
            + " ON CONFLICT (consumer) DO UPDATE SET"
            + " position = coalesce(excluded.position, cp.position),"
            + " confirmed_lsn = greatest(excluded.confirmed_lsn, cp.confirmed_lsn),"
            + " updated_at = now()";

    /** {@link ChangeLog#lockAppends}, with a statement kept prepared: it runs once per batch. */
    private void lockAppends() throws SQLException {
        if (lockAppends == null) lockAppends = connection.prepareStatement(ChangeLog.LOCK_APPENDS_SQL);
        lockAppends.execute();
    }

    /** The connection this writer owns, for work that must share its transaction. */
    public Connection connection() {
        return connection;
    }

    /** Installs a failure-injection hook, for crash tests. */
    public void crashPoint(CrashPoint point) {
        this.crashPoint = point;
    }

    /** The stored checkpoint, read on this writer's connection. */
    public Optional<Checkpoint> checkpoint() {
        try {
            Optional<Checkpoint> cp = ChangeLog.readCheckpoint(connection, consumer);
            connection.commit();
            return cp;
        } catch (SQLException e) {
            throw new ChangeLogException("Could not read the checkpoint of " + consumer + ": " + e.getMessage(), e);
        }
    }

    /**
     * Stores {@code rows} (in position order, all after the checkpoint) and moves the checkpoint
     * to the last of them, in one transaction.
     *
     * @param confirmedLsn end LSN of the last source transaction that is now stored whole, or 0
     *                     when this batch ends inside a transaction
     */
    public void write(List<ChangeRow> rows, long confirmedLsn) {
        try {
            crashPoint.reached(CrashPoint.Stage.BEFORE_COPY);
            if (rows.isEmpty()) {
                saveCheckpoint(null, confirmedLsn);
            } else {
                partitions.ensureFor(rows);
                // The checkpoint goes first, with the lock, in one round trip: the transaction is
                // atomic, so its order inside it does not matter, and a round trip less per batch
                // shows in the latency of a trickle of small transactions.
                lockAndSaveCheckpoint(rows.get(rows.size() - 1).position(), confirmedLsn);
                copy(rows);
            }
            crashPoint.reached(CrashPoint.Stage.AFTER_COPY);
            crashPoint.reached(CrashPoint.Stage.BEFORE_COMMIT);
            connection.commit();
            if (!rows.isEmpty()) notifier.signal(++commits);
            crashPoint.reached(CrashPoint.Stage.AFTER_COMMIT);
        } catch (SQLException e) {
            rollbackQuietly();
            throw new ChangeLogException("Could not store " + rows.size() + " changes: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            rollbackQuietly();
            throw e;
        }
    }

    /**
     * Appends {@code rows} in bulk, with no checkpoint: for loading a change log (an import, a
     * benchmark's synthetic history) rather than capturing into it, which must store its
     * checkpoint together with its rows ({@link #write}). Rows come in position order, after every
     * change the log holds, as for {@link #write}.
     *
     * <p>The rows are streamed into one {@code COPY} per transaction of at most
     * {@value #APPEND_ROWS_PER_TRANSACTION} rows, 64 KiB at a time, so memory stays flat however
     * many there are, and the append lock ({@link ChangeLog#lockAppends}) is held one transaction
     * at a time. A row whose commit time has no partition yet ends the transaction before it, since
     * partitions are created outside the writer's transaction. A failure rolls back the
     * transaction it happened in; those before it stay committed.
     *
     * <pre>{@code
     * try (ChangeLogWriter w = log.openWriter("import", c -> {})) {
     *     long n = w.append(rows.iterator());
     * }
     * }</pre>
     *
     * @return how many rows were appended
     */
    public long append(Iterator<? extends ChangeRow> rows) {
        long appended = 0;
        try {
            ChangeRow next = rows.hasNext() ? rows.next() : null;
            while (next != null) {
                partitions.ensureFor(List.of(next));
                lockAppends();
                CopyIn in = copyManager.copyIn(COPY_SQL);
                long copied = 0;
                try {
                    text.setLength(0);
                    do {
                        appendRow(text, next, true);
                        copied++;
                        if (text.length() >= CHUNK) flush(in);
                        next = rows.hasNext() ? rows.next() : null;
                    } while (next != null && copied < APPEND_ROWS_PER_TRANSACTION && partitions.has(next.committedAt()));
                    flush(in);
                    in.endCopy();
                } finally {
                    if (in.isActive()) in.cancelCopy();
                }
                connection.commit();
                appended += copied;
                notifier.signal(++commits);
            }
            return appended;
        } catch (SQLException e) {
            rollbackQuietly();
            throw new ChangeLogException("Could not append changes (" + appended + " appended before this failure): "
                    + e.getMessage(), e);
        } catch (RuntimeException e) {
            rollbackQuietly();
            throw e;
        }
    }

    /**
     * Stages changes of a streamed, uncommitted transaction, inside the current transaction (the
     * next {@link #write} commits them together with the checkpoint).
     */
    public void stage(List<StagedChange> changes) throws SQLException {
        if (changes.isEmpty()) return;
        CopyIn in = copyManager.copyIn("COPY annals.streamed_changes (consumer, xid, subxid, ordinal, \"schema\", \"table\","
                + " operation, primary_key, before, after, changed_columns, context, withheld) FROM STDIN");
        try {
            text.setLength(0);
            for (StagedChange c : changes) {
                ChangeRow r = c.row();
                field(text, consumer).append('\t');
                text.append(r.transactionId()).append('\t').append(c.subXid()).append('\t').append(r.position().ordinal()).append('\t');
                appendTail(text, r);
                if (text.length() >= CHUNK) flush(in);
            }
            flush(in);
            in.endCopy();
        } finally {
            if (in.isActive()) in.cancelCopy();
        }
    }

    /**
     * Moves a streamed transaction's staged changes into the change log now that it committed,
     * numbering them in arrival order, and moves the checkpoint to its end; one transaction.
     * Changes at or before {@code checkpoint} (stored by an earlier run that saw the transaction
     * unstreamed) are skipped.
     *
     * @return how many changes were stored
     */
    public int commitStaged(long xid, long commitLsn, java.time.Instant commitTime, String database, long endLsn,
                            Checkpoint checkpoint) {
        try {
            long skipThrough = checkpoint == null ? -1 : checkpoint.coveredThrough(commitLsn);
            int stored;
            long count;
            partitions.ensure(commitTime, commitTime);
            lockAppends();
            try (PreparedStatement ps = connection.prepareStatement(
                    "WITH moved AS (SELECT s.*, row_number() OVER (ORDER BY s.ordinal) - 1 AS n"
                            + " FROM annals.streamed_changes s WHERE s.consumer = ? AND s.xid = ?)"
                            + " INSERT INTO annals.changes (position, transaction_id, committed_at, database, \"schema\", \"table\","
                            + " operation, primary_key, before, after, changed_columns, context, withheld)"
                            + " SELECT annals.position_text(?::bigint, n), xid, ?, ?,"
                            + " \"schema\", \"table\", operation, primary_key, before, after, changed_columns, context, withheld"
                            + " FROM moved WHERE n > ? ORDER BY n")) {
                ps.setString(1, consumer);
                ps.setLong(2, xid);
                ps.setLong(3, commitLsn);
                ps.setObject(4, java.time.OffsetDateTime.ofInstant(commitTime, java.time.ZoneOffset.UTC));
                ps.setString(5, database);
                ps.setLong(6, skipThrough);
                stored = ps.executeUpdate();
            }
            try (PreparedStatement ps = connection.prepareStatement(
                    "DELETE FROM annals.streamed_changes WHERE consumer = ? AND xid = ?")) {
                ps.setString(1, consumer);
                ps.setLong(2, xid);
                count = ps.executeUpdate();
            }
            crashPoint.reached(CrashPoint.Stage.AFTER_COPY);
            Position last = count == 0 || stored == 0 ? null : Position.of(commitLsn, count - 1);
            saveCheckpoint(last, endLsn);
            crashPoint.reached(CrashPoint.Stage.BEFORE_COMMIT);
            connection.commit();
            if (stored > 0) notifier.signal(++commits);
            crashPoint.reached(CrashPoint.Stage.AFTER_COMMIT);
            return stored;
        } catch (SQLException e) {
            rollbackQuietly();
            throw new ChangeLogException("Could not store streamed transaction " + xid + ": " + e.getMessage(), e);
        }
    }

    /** Discards the staged changes of a rolled-back streamed transaction, or of one subtransaction of it. */
    public void discardStaged(long xid, Long subXid) {
        try (PreparedStatement ps = connection.prepareStatement(subXid == null
                ? "DELETE FROM annals.streamed_changes WHERE consumer = ? AND xid = ?"
                : "DELETE FROM annals.streamed_changes WHERE consumer = ? AND xid = ? AND subxid = ?")) {
            ps.setString(1, consumer);
            ps.setLong(2, xid);
            if (subXid != null) ps.setLong(3, subXid);
            ps.executeUpdate();
            connection.commit();
        } catch (SQLException e) {
            rollbackQuietly();
            throw new ChangeLogException("Could not discard streamed transaction " + xid + ": " + e.getMessage(), e);
        }
    }

    /**
     * Discards every staged change of this consumer. Called on start: PostgreSQL streams any
     * transaction that was not yet stored again from its beginning.
     */
    public void discardAllStaged() {
        try (PreparedStatement ps = connection.prepareStatement("DELETE FROM annals.streamed_changes WHERE consumer = ?")) {
            ps.setString(1, consumer);
            ps.executeUpdate();
            connection.commit();
        } catch (SQLException e) {
            rollbackQuietly();
            throw new ChangeLogException("Could not clear streamed changes: " + e.getMessage(), e);
        }
    }

    /** Moves the checkpoint without storing changes, inside the caller's open transaction. */
    public void saveCheckpoint(Position position, long confirmedLsn) throws SQLException {
        bindCheckpoint(saveCheckpoint, position, confirmedLsn);
        saveCheckpoint.executeUpdate();
    }

    /** Takes the append lock and moves the checkpoint, in the open transaction and one round trip. */
    private void lockAndSaveCheckpoint(Position position, long confirmedLsn) throws SQLException {
        bindCheckpoint(lockAndSaveCheckpoint, position, confirmedLsn);
        lockAndSaveCheckpoint.execute();
    }

    private void bindCheckpoint(PreparedStatement ps, Position position, long confirmedLsn) throws SQLException {
        ps.setString(1, consumer);
        ps.setString(2, position == null ? null : position.toString());
        ps.setString(3, confirmedLsn == 0 ? null : Position.formatLsn(confirmedLsn));
    }

    /**
     * Records where the initial snapshot stands, and commits. Once it is {@link SnapshotState#DONE}
     * or {@link SnapshotState#SKIPPED}, everything before {@code snapshotLsn} (the slot's consistent
     * point) is accounted for, so the confirmed LSN moves there too.
     */
    public void saveSnapshotState(SnapshotState state, long snapshotLsn) {
        try (PreparedStatement ps = connection.prepareStatement(
                "INSERT INTO annals.checkpoints AS cp (consumer, snapshot_state, snapshot_lsn, confirmed_lsn)"
                        + " VALUES (?, ?, ?::pg_lsn, ?::pg_lsn)"
                        + " ON CONFLICT (consumer) DO UPDATE SET snapshot_state = excluded.snapshot_state,"
                        + " snapshot_lsn = excluded.snapshot_lsn, confirmed_lsn = excluded.confirmed_lsn, updated_at = now()")) {
            ps.setString(1, consumer);
            ps.setString(2, state.sql());
            ps.setString(3, Position.formatLsn(snapshotLsn));
            boolean accountedFor = state == SnapshotState.DONE || state == SnapshotState.SKIPPED;
            ps.setString(4, accountedFor ? Position.formatLsn(snapshotLsn) : null);
            ps.executeUpdate();
            connection.commit();
        } catch (SQLException e) {
            rollbackQuietly();
            throw new ChangeLogException("Could not record the snapshot state of " + consumer + ": " + e.getMessage(), e);
        }
    }

    /**
     * Forgets an initial snapshot cut short: deletes the SNAPSHOT rows it stored (those at
     * {@code snapshotLsn - 1}, where snapshots place their rows; none when it is 0) and this
     * consumer's checkpoint, in one transaction.
     *
     * @return how many rows were deleted
     */
    public int discardSnapshot(long snapshotLsn) {
        try {
            int n = 0;
            if (snapshotLsn != 0) {
                String prefix = Position.of(snapshotLsn - 1, 0).toString().substring(0, 16) + ".%";
                try (PreparedStatement ps = connection.prepareStatement(
                        "DELETE FROM annals.changes WHERE operation = 'SNAPSHOT' AND position LIKE ?")) {
                    ps.setString(1, prefix);
                    n = ps.executeUpdate();
                }
            }
            try (PreparedStatement ps = connection.prepareStatement("DELETE FROM annals.checkpoints WHERE consumer = ?")) {
                ps.setString(1, consumer);
                ps.executeUpdate();
            }
            connection.commit();
            return n;
        } catch (SQLException e) {
            rollbackQuietly();
            throw new ChangeLogException("Could not discard the interrupted snapshot of " + consumer + ": " + e.getMessage(), e);
        }
    }

    /**
     * The latest stored image ({@code after} as JSON text) of each row in {@code keys}, each given
     * as (schema, table, primary key JSON), in one query: null for a row whose latest change is a
     * DELETE or that the log has never seen. Read in its own transaction, committed before it
     * returns. Sharing the batch's transaction would save a round trip, but the read's locks on
     * {@code annals.changes} would then be held while the batch waits for the append lock, the
     * reverse of retention's order (append lock, then dropping partitions): a deadlock.
     */
    public List<String> lastImages(List<String[]> keys) {
        List<String> out = new java.util.ArrayList<>(keys.size());
        if (keys.isEmpty()) return out;
        String[] schemas = new String[keys.size()];
        String[] tables = new String[keys.size()];
        String[] pks = new String[keys.size()];
        for (int i = 0; i < keys.size(); i++) {
            schemas[i] = keys.get(i)[0];
            tables[i] = keys.get(i)[1];
            pks[i] = keys.get(i)[2];
        }
        try (PreparedStatement ps = connection.prepareStatement(
                "SELECT (SELECT ch.after::text FROM annals.changes ch"
                        + " WHERE ch.\"schema\" = k.s AND ch.\"table\" = k.t AND ch.primary_key = k.pk::jsonb"
                        + " ORDER BY ch.position DESC LIMIT 1)"
                        + " FROM unnest(?::text[], ?::text[], ?::text[]) WITH ORDINALITY AS k(s, t, pk, n) ORDER BY k.n")) {
            ps.setArray(1, connection.createArrayOf("text", schemas));
            ps.setArray(2, connection.createArrayOf("text", tables));
            ps.setArray(3, connection.createArrayOf("text", pks));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(rs.getString(1));
            }
            connection.commit();
            return out;
        } catch (SQLException e) {
            rollbackQuietly();
            throw new ChangeLogException("Could not read the last images of " + keys.size() + " rows: " + e.getMessage(), e);
        }
    }

    /** Commits the writer's current transaction. */
    public void commit() throws SQLException {
        connection.commit();
    }

    private void copy(List<ChangeRow> rows) throws SQLException {
        boolean context = false;
        for (ChangeRow r : rows) {
            if (!EMPTY_CONTEXT.equals(r.context())) {
                context = true;
                break;
            }
        }
        CopyIn in = copyManager.copyIn(context ? COPY_SQL : COPY_NO_CONTEXT_SQL);
        try {
            text.setLength(0);
            for (ChangeRow r : rows) {
                appendRow(text, r, context);
                if (text.length() >= CHUNK) {
                    flush(in);
                }
            }
            flush(in);
            in.endCopy();
        } finally {
            if (in.isActive()) {
                in.cancelCopy();
            }
        }
    }

    private void flush(CopyIn in) throws SQLException {
        if (text.isEmpty()) return;
        byte[] bytes = text.toString().getBytes(StandardCharsets.UTF_8);
        in.writeToCopy(bytes, 0, bytes.length);
        text.setLength(0);
    }

    /**
     * {@code t} as PostgreSQL reads a {@code timestamptz} ({@code 2026-12-06 01:02:03.456789+00}),
     * without {@code java.time}'s formatter. Under a trickle of one-row transactions every row has
     * a commit time of its own, and {@link java.time.Instant#toString} was a formatter call per row and a
     * 0.2 s JIT compilation in the first second of a fresh worker. Years outside 1–9999 keep
     * {@code Instant.toString}'s form.
     */
    static String timestampText(java.time.Instant t) {
        long epochSecond = t.getEpochSecond();
        java.time.LocalDate date = java.time.LocalDate.ofEpochDay(Math.floorDiv(epochSecond, 86_400L));
        int year = date.getYear();
        if (year < 1 || year > 9999) return t.toString();
        int secondOfDay = (int) Math.floorMod(epochSecond, 86_400L);
        StringBuilder out = new StringBuilder(32);
        digits(out, year, 4).append('-');
        digits(out, date.getMonthValue(), 2).append('-');
        digits(out, date.getDayOfMonth(), 2).append(' ');
        digits(out, secondOfDay / 3600, 2).append(':');
        digits(out, secondOfDay / 60 % 60, 2).append(':');
        digits(out, secondOfDay % 60, 2);
        int nanos = t.getNano();
        if (nanos != 0) {
            out.append('.');
            if (nanos % 1000 == 0) digits(out, nanos / 1000, 6);
            else digits(out, nanos, 9);
        }
        return out.append("+00").toString();
    }

    private static final int[] POWERS_OF_TEN = {1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000};

    /** {@code value} (not negative) in exactly {@code width} decimal digits, zero-padded. */
    private static StringBuilder digits(StringBuilder out, int value, int width) {
        for (int divisor = POWERS_OF_TEN[width - 1]; divisor > 0; divisor /= 10) {
            out.append((char) ('0' + value / divisor % 10));
        }
        return out;
    }

    /** Appends one row of {@link #COPY_SQL}, or of {@link #COPY_NO_CONTEXT_SQL} without {@code context}. */
    private void appendRow(StringBuilder out, ChangeRow r, boolean context) {
        r.position().appendTo(out).append('\t');
        out.append(r.transactionId()).append('\t');
        if (!r.committedAt().equals(lastCommitTime)) {
            lastCommitTime = r.committedAt();
            lastCommitTimeText = timestampText(lastCommitTime);
        }
        out.append(lastCommitTimeText).append('\t');
        field(out, r.database()).append('\t');
        appendTail(out, r, context);
    }

    /** Appends the columns from schema on, which changes and streamed_changes share. */
    private static void appendTail(StringBuilder out, ChangeRow r) {
        appendTail(out, r, true);
    }

    private static void appendTail(StringBuilder out, ChangeRow r, boolean context) {
        field(out, r.schema()).append('\t');
        field(out, r.table()).append('\t');
        out.append(r.operation().name()).append('\t');
        field(out, r.primaryKey()).append('\t');
        field(out, r.before()).append('\t');
        field(out, r.after()).append('\t');
        array(out, r.changedColumns());
        out.append('\t');
        if (context) field(out, r.context()).append('\t');
        array(out, r.withheld());
        out.append('\n');
    }

    /** Appends a text[] in COPY's text format; null becomes {@code \N}. */
    private static void array(StringBuilder out, List<String> names) {
        if (names == null) {
            out.append("\\N");
            return;
        }
        StringBuilder array = new StringBuilder(16 * names.size() + 2).append('{');
        for (int i = 0; i < names.size(); i++) {
            if (i > 0) array.append(',');
            array.append('"');
            String name = names.get(i);
            for (int j = 0; j < name.length(); j++) {
                char ch = name.charAt(j);
                if (ch == '"' || ch == '\\') array.append('\\');
                array.append(ch);
            }
            array.append('"');
        }
        field(out, array.append('}').toString());
    }

    /** Appends a value escaped for COPY's text format; null becomes {@code \N}. */
    private static StringBuilder field(StringBuilder out, String v) {
        if (v == null) return out.append("\\N");
        int n = v.length();
        // Nearly every value needs no escaping: find the first character that does, copy what
        // comes before it in one bulk append, and escape from there on.
        int clean = 0;
        while (clean < n) {
            char ch = v.charAt(clean);
            if (ch == '\\' || ch == '\n' || ch == '\r' || ch == '\t') break;
            clean++;
        }
        if (clean == n) return out.append(v);
        out.append(v, 0, clean);
        for (int i = clean; i < n; i++) {
            char ch = v.charAt(i);
            switch (ch) {
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> out.append(ch);
            }
        }
        return out;
    }

    private void rollbackQuietly() {
        // The failure may be a partition that retention dropped since it was cached.
        partitions.forget();
        try {
            connection.rollback();
        } catch (SQLException ignored) {
            // The connection is broken; closing it discards the transaction anyway.
        }
    }

    @Override
    public void close() {
        notifier.close();
        try {
            saveCheckpoint.close();
            lockAndSaveCheckpoint.close();
            connection.close();
        } catch (SQLException ignored) {
            // Nothing left to save: every write committed or rolled back already.
        }
    }
}
