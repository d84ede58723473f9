package io.annals.capture.pipeline;

import io.annals.capture.ColumnPolicy;
import io.annals.capture.assembly.Boundary.StreamedAbort;
import io.annals.capture.assembly.Boundary.StreamedCommit;
import io.annals.capture.assembly.PendingChange;
import io.annals.capture.assembly.RelationInfo;

import io.annals.changelog.ChangeLogWriter;
import io.annals.changelog.Checkpoint;
import io.annals.changelog.StagedChange;
import io.annals.changelog.ChangeRow;
import io.annals.changelog.CrashPoint;
import io.annals.changelog.Operation;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns {@link PendingChange}s into change-log rows and stores them, batch by batch, with the
 * checkpoint in the same transaction. Runs on its own thread so that decoding the stream and
 * writing the change log overlap on two cores.
 */
public final class BatchWriter {

    private static final Logger log = LoggerFactory.getLogger(BatchWriter.class);

    private final ChangeLogWriter writer;
    private final String database;
    private final LastImages lastImages = new LastImages(200_000, 32L << 20);
    private final CaptureMetrics metrics;
    private final CrashPoint crashPoint;
    private boolean confirmPending;
    /** When {@link ChangeLogWriter#write} reached each {@link CrashPoint.Stage} of the current batch. */
    private final long[] reachedNanos = new long[CrashPoint.Stage.values().length];

    public BatchWriter(ChangeLogWriter writer, String database, CaptureMetrics metrics, CrashPoint crashPoint) {
        this.writer = writer;
        this.database = database;
        this.metrics = metrics;
        this.crashPoint = crashPoint;
        // The writer's crash-point stages double as the timing points of the copy, checkpoint and commit.
        writer.crashPoint(stage -> {
            reachedNanos[stage.ordinal()] = System.nanoTime();
            crashPoint.reached(stage);
        });
    }

    /** Stores the batch; returns once it is durable. */
    void write(Batch batch) throws SQLException {
        List<PendingChange> changes = batch.changes();
        if (changes.isEmpty() && batch.confirmedLsn() == 0) return;
        long taken = System.nanoTime();
        Map<String, LastImages.Image> fetched = prefetch(changes);
        long prefetched = System.nanoTime();
        // Sized for the batch: it takes an image of nearly every change, and growing it step by step
        // showed in profiles.
        Map<String, LastImages.Image> overlay = new LinkedHashMap<>(Math.max(16, changes.size() * 4 / 3 + 1));
        List<ChangeRow> rows = new ArrayList<>(changes.size());
        List<StagedChange> staged = new ArrayList<>();
        for (PendingChange c : changes) {
            ChangeRow row = render(c, fetched, overlay);
            if (c.staged()) staged.add(new StagedChange(c.subXid, row));
            else rows.add(row);
        }
        long rendered = System.nanoTime();
        if (rows.isEmpty() && staged.isEmpty() && !confirmPending) {
            // Only transactions with nothing to capture ended here (the change log's own writes,
            // when it lives in the source, among them). Writing a checkpoint for them would make
            // WAL that streams back here: an endless trickle on an idle database. Everything
            // before is stored, so the slot may move on without it.
            return;
        }
        writer.stage(staged);
        if (rows.isEmpty()) {
            writer.saveCheckpoint(null, batch.confirmedLsn());
            writer.commit();
        } else {
            writer.write(rows, batch.confirmedLsn());
        }
        // Rows stored mid-transaction leave the checkpoint's confirmed LSN behind them; the next
        // batch that ends the transaction must record it even when it brings no rows itself.
        confirmPending = batch.confirmedLsn() == 0 && !(rows.isEmpty() && staged.isEmpty());
        overlay.forEach(lastImages::put);
        Instant now = Instant.now();
        Instant lastCommit = null;
        for (PendingChange c : changes) {
            if (c.operation == Operation.SNAPSHOT || c.staged()) continue;
            if (!c.committedAt.equals(lastCommit)) {
                metrics.latency.record(Duration.between(c.committedAt, now));
                lastCommit = c.committedAt;
            }
        }
        metrics.changes.increment(rows.size());
        metrics.batchSize.record(rows.size());
        if (!rows.isEmpty()) recordStages(batch, taken, prefetched, rendered);
    }

    private void recordStages(Batch batch, long taken, long prefetched, long rendered) {
        long[] nanos = new long[CaptureMetrics.Stage.values().length];
        nanos[CaptureMetrics.Stage.STREAM.ordinal()] = batch.streamNanos();
        nanos[CaptureMetrics.Stage.FILL.ordinal()] = batch.receivedNanos() == 0 ? 0 : batch.handedOffNanos() - batch.receivedNanos();
        nanos[CaptureMetrics.Stage.QUEUE.ordinal()] = taken - batch.handedOffNanos();
        nanos[CaptureMetrics.Stage.PREFETCH.ordinal()] = prefetched - taken;
        nanos[CaptureMetrics.Stage.RENDER.ordinal()] = rendered - prefetched;
        // The checkpoint travels with the append lock, ahead of the COPY, so it is part of this stage.
        nanos[CaptureMetrics.Stage.COPY.ordinal()] = reached(CrashPoint.Stage.BEFORE_COMMIT) - reached(CrashPoint.Stage.BEFORE_COPY);
        nanos[CaptureMetrics.Stage.COMMIT.ordinal()] = reached(CrashPoint.Stage.AFTER_COMMIT) - reached(CrashPoint.Stage.BEFORE_COMMIT);
        metrics.recordStages(nanos);
    }

    private long reached(CrashPoint.Stage stage) {
        return reachedNanos[stage.ordinal()];
    }

    /** A streamed transaction committed: its staged changes become part of the change log. */
    void commit(StreamedCommit commit, Checkpoint startCheckpoint) {
        int stored = writer.commitStaged(commit.xid(), commit.commitLsn(), commit.commitTime(), database, commit.endLsn(),
                startCheckpoint);
        metrics.changes.increment(stored);
        metrics.batchSize.record(stored);
        metrics.latency.record(Duration.between(commit.commitTime(), Instant.now()));
    }

    /** A streamed transaction or subtransaction rolled back: forget its staged changes. */
    void abort(StreamedAbort abort) {
        writer.discardStaged(abort.xid(), abort.subXid() == abort.xid() ? null : abort.subXid());
        // Images of the rolled-back changes may be cached; they never happened.
        lastImages.clear();
    }

    private Map<String, LastImages.Image> prefetch(List<PendingChange> changes) throws SQLException {
        Map<String, String[]> missing = new LinkedHashMap<>();
        for (PendingChange c : changes) {
            if (!c.needsLastImage()) continue;
            String key = PendingChange.rowKey(c.relation.schema(), c.relation.table(), c.previousKey);
            if (!lastImages.contains(key)) {
                missing.put(key, new String[]{c.relation.schema(), c.relation.table(), c.previousKey});
            }
        }
        if (missing.isEmpty()) return Map.of();
        List<String[]> keys = new ArrayList<>(missing.values());
        List<String> images = writer.lastImages(keys);
        Map<String, LastImages.Image> out = new java.util.HashMap<>();
        for (int i = 0; i < keys.size(); i++) {
            String[] k = keys.get(i);
            String after = images.get(i);
            out.put(PendingChange.rowKey(k[0], k[1], k[2]), after == null ? null : LastImages.parse(after));
        }
        return out;
    }

    private ChangeRow render(PendingChange c, Map<String, LastImages.Image> fetched, Map<String, LastImages.Image> overlay) {
        RelationInfo rel = c.relation;
        String[] after = c.after;
        List<String> changed;
        String before = c.before == null ? null : image(rel, c.before, c.beforeIsFull ? null : rel.keyColumns());
        switch (c.operation) {
            case CREATE, SNAPSHOT -> changed = c.operation == Operation.SNAPSHOT ? null : storedColumns(rel, after);
            case DELETE -> changed = storedColumns(rel, c.before);
            case TRUNCATE -> changed = null;
            case UPDATE -> {
                LastImages.Image previous = null;
                if (c.needsLastImage()) {
                    String key = PendingChange.rowKey(rel.schema(), rel.table(), c.previousKey);
                    previous = overlay.containsKey(key) ? overlay.get(key)
                            : lastImages.contains(key) ? lastImages.get(key) : fetched.get(key);
                }
                after = fillUnchanged(c, previous);
                changed = changedColumns(c, after, previous);
            }
            default -> throw new IllegalStateException(c.operation.name());
        }
        String afterJson = after == null ? null : image(rel, after, null);
        if (rel.keyColumns().length > 0) {
            if (c.operation == Operation.DELETE) {
                overlay.put(c.rowKey(), null);
            } else if (after != null) {
                if (c.previousKey != null && !c.previousKey.equals(c.primaryKey)) {
                    overlay.put(PendingChange.rowKey(rel.schema(), rel.table(), c.previousKey), null);
                }
                overlay.put(c.rowKey(), storedImage(rel, after));
            }
        }
        if (c.operation == Operation.TRUNCATE) {
            lastImages.forgetTable(rel.schema(), rel.table());
            overlay.keySet().removeIf(k -> k.startsWith(rel.schema() + '\u0000' + rel.table() + '\u0000'));
        }
        return new ChangeRow(c.position, c.xid, c.staged() ? Instant.EPOCH : c.committedAt, database, rel.schema(), rel.table(), c.operation,
                c.primaryKey, before, afterJson, changed, c.context, withheld(rel, c.beforeIsFull ? c.before : null, after));
    }

    /**
     * The columns the policy withheld from this change's images: omitted ones, and masked ones
     * whose stored value is the placeholder in either image; {@code null} when none (nearly
     * always), so that the log knows a placeholder from a real {@code "****"}.
     */
    private static List<String> withheld(RelationInfo rel, String[] before, String[] after) {
        List<String> out = null;
        ColumnPolicy.Treatment[] treatments = rel.treatments();
        for (int i = 0; i < treatments.length; i++) {
            if (treatments[i] == ColumnPolicy.Treatment.STORE || (before == null && after == null)) continue;
            if (treatments[i] == ColumnPolicy.Treatment.OMIT
                    || (before != null && i < before.length && ColumnPolicy.MASKED_JSON.equals(before[i]))
                    || (after != null && i < after.length && ColumnPolicy.MASKED_JSON.equals(after[i]))) {
                if (out == null) out = new ArrayList<>(2);
                out.add(rel.names()[i]);
            }
        }
        return out;
    }

    private String[] fillUnchanged(PendingChange c, LastImages.Image previous) {
        String[] after = c.after;
        String[] filled = null;
        for (int i = 0; i < after.length; i++) {
            if (after[i] != PendingChange.UNCHANGED) continue;
            if (filled == null) filled = after.clone();
            String name = c.relation.names()[i];
            if (c.beforeIsFull && c.before[i] != null && c.before[i] != PendingChange.UNCHANGED) {
                filled[i] = c.before[i];
            } else if (previous != null && previous.has(name)) {
                filled[i] = previous.get(name);
            } else {
                log.warn("{}.{} {}: column {} was not sent (unchanged TOAST value) and no earlier image of the row"
                                + " is in the change log; it is left out of this change's after image",
                        c.relation.schema(), c.relation.table(), c.primaryKey, name);
                metrics.unresolvedToast.increment();
            }
        }
        return filled == null ? after : filled;
    }

    private static List<String> changedColumns(PendingChange c, String[] after, LastImages.Image previous) {
        RelationInfo rel = c.relation;
        List<String> out = new ArrayList<>();
        for (int i = 0; i < after.length; i++) {
            String name = rel.names()[i];
            if (c.withheldChanged != null && c.withheldChanged.get(i)) {
                out.add(name); // withheld: its stored old and new values are the same, but the raw values differed
                continue;
            }
            if (rel.treatments()[i] == ColumnPolicy.Treatment.OMIT) continue;
            if (c.after[i] == PendingChange.UNCHANGED) continue;
            String old;
            if (c.beforeIsFull) {
                old = c.before[i];
            } else if (previous != null && previous.has(name)) {
                old = previous.get(name);
            } else if (previous == null && c.before != null && contains(rel.keyColumns(), i)) {
                old = c.before[i];
            } else if (previous == null) {
                // Nothing known about the old row: report the column as possibly changed.
                out.add(name);
                continue;
            } else {
                out.add(name); // a column the last image lacks: added since
                continue;
            }
            if (!LastImages.sameValue(old, after[i])) out.add(name);
        }
        return out;
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) if (x == v) return true;
        return false;
    }

    private static List<String> storedColumns(RelationInfo rel, String[] values) {
        List<String> out = new ArrayList<>(values.length);
        for (int i = 0; i < values.length; i++) {
            if (rel.treatments()[i] != ColumnPolicy.Treatment.OMIT) out.add(rel.names()[i]);
        }
        return out;
    }

    /**
     * The image to remember for the row. In the common case (every column stored, all sent, none
     * NULL) it shares the relation's names and the change's values instead of copying them; both
     * are never modified once made.
     */
    private static LastImages.Image storedImage(RelationInfo rel, String[] values) {
        boolean plain = values.length == rel.names().length;
        for (int i = 0; plain && i < values.length; i++) {
            plain = values[i] != null && values[i] != PendingChange.UNCHANGED
                    && rel.treatments()[i] != ColumnPolicy.Treatment.OMIT;
        }
        return plain ? new LastImages.Image(rel.names(), values)
                : new LastImages.Image(storedNames(rel, values), storedValues(rel, values));
    }

    private static String[] storedNames(RelationInfo rel, String[] values) {
        List<String> out = new ArrayList<>(values.length);
        for (int i = 0; i < values.length; i++) {
            if (rel.treatments()[i] != ColumnPolicy.Treatment.OMIT && values[i] != PendingChange.UNCHANGED) out.add(rel.names()[i]);
        }
        return out.toArray(String[]::new);
    }

    private static String[] storedValues(RelationInfo rel, String[] values) {
        List<String> out = new ArrayList<>(values.length);
        for (int i = 0; i < values.length; i++) {
            if (rel.treatments()[i] != ColumnPolicy.Treatment.OMIT && values[i] != PendingChange.UNCHANGED) {
                out.add(values[i] == null ? "null" : values[i]);
            }
        }
        return out.toArray(String[]::new);
    }

    /** Renders an image as a JSON object; {@code only} restricts it to some columns (a key-only image). */
    static String image(RelationInfo rel, String[] values, int[] only) {
        StringBuilder sb = new StringBuilder(32 + values.length * 16).append('{');
        boolean first = true;
        int n = only == null ? values.length : only.length;
        for (int j = 0; j < n; j++) {
            int i = only == null ? j : only[j];
            if (i >= values.length || rel.treatments()[i] == ColumnPolicy.Treatment.OMIT) continue;
            String v = values[i];
            if (v == PendingChange.UNCHANGED) continue;
            if (!first) sb.append(',');
            first = false;
            sb.append(rel.quotedNames()[i]).append(':').append(v == null ? "null" : v);
        }
        return sb.append('}').toString();
    }
}
