package io.annals.history.timetravel;

import com.fasterxml.jackson.databind.JsonNode;
import io.annals.history.AuditTrail;
import io.annals.history.ColumnChange;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * How one row of a table differs between two cuts of the change log: added, removed, or changed
 * with its column diffs. Made by {@link AuditTrail#diff(String, java.time.Instant, java.time.Instant)}.
 *
 * <pre>{@code
 * try (Stream<RowDiff> diff = trail.diff("orders", Instants.parse("2026-11-01"), Instants.parse("2026-11-02"))) {
 *     diff.forEach(d -> System.out.println(d.kind() + " " + d.primaryKey() + " " + d.columns()));
 * }
 * }</pre>
 *
 * @param kind       whether the row was added, removed or changed between the two cuts
 * @param primaryKey the row's primary key
 * @param before     the row's image at the earlier cut, {@code null} when it was {@link Kind#ADDED}
 * @param after      the row's image at the later cut, {@code null} when it was {@link Kind#REMOVED}
 * @param columns    for a changed row, each column whose value differs; for an added or removed row,
 *                   every column, with a {@code null} old or new value
 */
public record RowDiff(Kind kind, JsonNode primaryKey, JsonNode before, JsonNode after, List<ColumnChange> columns) {

    /** How a row differs between two cuts. */
    public enum Kind { ADDED, REMOVED, CHANGED }

    public RowDiff {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(primaryKey, "primaryKey");
        primaryKey = primaryKey.deepCopy();
        before = before == null ? null : before.deepCopy();
        after = after == null ? null : after.deepCopy();
        columns = List.copyOf(columns);
    }

    /**
     * The diff of one row from its two images, or {@code null} when they are equal (a row changed
     * and changed back between the two cuts is no difference). JSON equality: jsonb compares
     * numbers by value, and so do Jackson's decimal nodes read with the trail's reader.
     */
    static RowDiff of(JsonNode primaryKey, JsonNode before, JsonNode after) {
        if (before == null && after == null) return null;
        Set<String> names = new LinkedHashSet<>();
        addFieldNames(names, before);
        addFieldNames(names, after);
        List<ColumnChange> columns = new ArrayList<>();
        for (String name : names) {
            JsonNode old = before == null ? null : before.get(name);
            JsonNode now = after == null ? null : after.get(name);
            if (old != null && now != null && sameValue(old, now)) continue;
            columns.add(new ColumnChange(name, old, now));
        }
        if (before != null && after != null && columns.isEmpty()) return null;
        Kind kind = before == null ? Kind.ADDED : after == null ? Kind.REMOVED : Kind.CHANGED;
        return new RowDiff(kind, primaryKey, before, after, columns);
    }

    private static boolean sameValue(JsonNode a, JsonNode b) {
        if (a.isNumber() && b.isNumber()) return a.decimalValue().compareTo(b.decimalValue()) == 0;
        return a.equals(b);
    }

    private static void addFieldNames(Set<String> into, JsonNode image) {
        if (image == null) return;
        for (Iterator<String> it = image.fieldNames(); it.hasNext(); ) into.add(it.next());
    }
}
