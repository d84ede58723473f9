package io.annals.capture.assembly;

import io.annals.changelog.Operation;
import io.annals.changelog.Position;

import java.time.Instant;
import java.util.BitSet;

/**
 * A decoded row change on its way from the stream reader to the change-log writer. Column values
 * are already JSON fragments, aligned with {@link RelationInfo#names()}; the writer fills in what
 * the stream could not say (unchanged TOAST values, and which columns an UPDATE changed when the
 * table only logs its key) from the row's last known image, then renders the row.
 */
public final class PendingChange {

    /** Marks a column whose value the stream did not send because it did not change. */
    public static final String UNCHANGED = new String("<unchanged-toast>");

    public final Position position;
    public final long xid;
    public final Instant committedAt;
    public final RelationInfo relation;
    public final Operation operation;
    /** Full or key-only old image (null entries are SQL NULL or not sent), or null when none was sent. */
    public final String[] before;
    public final boolean beforeIsFull;
    /** New image; entries may be {@link #UNCHANGED}. Null for DELETE and TRUNCATE. */
    public final String[] after;
    public final String primaryKey;
    /** Key of the row before the change, to find its last image (differs from primaryKey when the key changed). */
    public final String previousKey;
    public final String context;
    /**
     * For a change of a streamed (still uncommitted) transaction: the subtransaction that made it;
     * -1 otherwise. Such a change's position holds only its order of arrival.
     */
    public final long subXid;
    /**
     * The masked or omitted columns this UPDATE changed, known only from a full old image (their
     * stored values are the same placeholder, or nothing, before and after); null when none, or
     * when there was no full old image.
     */
    public final BitSet withheldChanged;

    PendingChange(Position position, long xid, Instant committedAt, RelationInfo relation, Operation operation,
                  String[] before, boolean beforeIsFull, String[] after, String primaryKey, String previousKey,
                  String context, long subXid, BitSet withheldChanged) {
        this.position = position;
        this.xid = xid;
        this.committedAt = committedAt;
        this.relation = relation;
        this.operation = operation;
        this.before = before;
        this.beforeIsFull = beforeIsFull;
        this.after = after;
        this.primaryKey = primaryKey;
        this.previousKey = previousKey;
        this.context = context;
        this.subXid = subXid;
        this.withheldChanged = withheldChanged;
    }

    /** Roughly how many characters this change holds, to bound batches by memory as well as count. */
    public long approximateChars() {
        long n = 128 + (primaryKey == null ? 0 : primaryKey.length() * 2L) + context.length();
        if (before != null) for (String v : before) if (v != null) n += v.length() + 16;
        if (after != null) for (String v : after) if (v != null) n += v.length() + 16;
        return n;
    }

    public boolean staged() {
        return subXid >= 0;
    }

    /** True when the writer must look up the row's last image to complete this change. */
    public boolean needsLastImage() {
        if (operation != Operation.UPDATE || previousKey == null) return false;
        if (!beforeIsFull) return true;
        for (String v : after) if (v == UNCHANGED) return true;
        return false;
    }

    public String rowKey() {
        return rowKey(relation.schema(), relation.table(), primaryKey);
    }

    public static String rowKey(String schema, String table, String key) {
        return schema + '\u0000' + table + '\u0000' + key;
    }
}
