package io.annals.changelog;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.Iterator;
import java.util.List;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link ChangeLogWriter#append}: a bulk load streamed into the log, with no checkpoint. */
class ChangeLogAppendTest {

    private static final Instant JANUARY = Instant.parse("2025-01-20T00:00:00Z");
    private static final Instant FEBRUARY = Instant.parse("2025-02-03T00:00:00Z");

    @Test
    void streamsRowsInTransactionsCutAtTheirLimitAndAtNewPartitions() {
        String url = TestPostgres.newDatabase("changelog_append");
        ChangeLog log = ChangeLog.at(url);
        log.migrate();
        int january = ChangeLogWriter.APPEND_ROWS_PER_TRANSACTION + 10;
        // Made one at a time as the writer asks for them: nothing holds them all.
        Iterator<ChangeRow> rows = LongStream.range(0, january + 10)
                .mapToObj(i -> PartitioningTest.row(0x1000 + i, 0, i < january ? JANUARY.plusMillis(i) : FEBRUARY.plusMillis(i)))
                .iterator();

        long appended;
        try (ChangeLogWriter writer = log.openWriter("import", c -> { })) {
            appended = writer.append(rows);
        }

        assertThat(appended).isEqualTo(january + 10);
        assertThat(PartitioningTest.scalar(url, "SELECT count(*) FROM annals.changes")).isEqualTo(String.valueOf(january + 10));
        assertThat(PartitioningTest.scalar(url, "SELECT count(*) FROM annals.changes c1 JOIN annals.changes c2"
                + " ON c2.id = c1.id + 1 WHERE c2.position < c1.position")).as("ids follow positions").isEqualTo("0");
        assertThat(PartitioningTest.partitions(url)).containsExactly("changes_20250101 [2025-01-01, 2025-02-01)",
                "changes_20250201 [2025-02-01, 2025-03-01)");
        // A full transaction, the rest of January, then February in a transaction of its own.
        assertThat(TestPostgres.rows(url, "SELECT count(*) FROM annals.changes GROUP BY xmin::text ORDER BY min(id)"))
                .containsExactly(String.valueOf(ChangeLogWriter.APPEND_ROWS_PER_TRANSACTION), "10", "10");
        assertThat(log.checkpoint("import")).as("a bulk load is no consumer").isEmpty();
    }

    @Test
    void appendingNothingWritesNothing() {
        String url = TestPostgres.newDatabase("changelog_append_empty");
        ChangeLog log = ChangeLog.at(url);
        log.migrate();
        try (ChangeLogWriter writer = log.openWriter("import", c -> { })) {
            assertThat(writer.append(List.<ChangeRow>of().iterator())).isZero();
        }
        assertThat(PartitioningTest.scalar(url, "SELECT count(*) FROM annals.changes")).isEqualTo("0");
    }
}
