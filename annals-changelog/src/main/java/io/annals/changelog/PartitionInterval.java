package io.annals.changelog;

import java.util.Locale;

/**
 * How much commit time one partition of {@code annals.changes} spans. Bounds are aligned in UTC:
 * a {@code MONTH} partition runs from midnight UTC on the first of a month to the first of the next.
 * Retention drops whole partitions, so the interval is also the granularity of retention.
 *
 * <pre>{@code
 * ChangeLog log = ChangeLog.at(url);
 * log.partitionInterval(PartitionInterval.WEEK);   // partitions created from now on span a week
 * }</pre>
 */
public enum PartitionInterval {
    DAY, WEEK, MONTH, QUARTER, YEAR;

    /** The interval's name as stored in {@code annals.partitioning}, e.g. {@code month}. */
    String sqlName() {
        return name().toLowerCase(Locale.ROOT);
    }

    static PartitionInterval fromSql(String name) {
        return valueOf(name.toUpperCase(Locale.ROOT));
    }
}
