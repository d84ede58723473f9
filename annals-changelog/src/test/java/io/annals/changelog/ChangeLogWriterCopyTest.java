package io.annals.changelog;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What {@link ChangeLogWriter#write} sends through COPY arrives as it was given: values that need
 * COPY's escapes, commit times that change inside a batch, and contexts, whether a batch has none
 * (the column's default is used) or some.
 */
class ChangeLogWriterCopyTest {

    private static final Instant T1 = Instant.parse("2025-03-04T05:06:07.123456Z");
    private static final Instant T2 = Instant.parse("2025-03-04T05:06:08Z");

    private static ChangeRow row(long lsn, long ordinal, Instant at, String after, String context) {
        return new ChangeRow(Position.of(lsn, ordinal), 900 + lsn, at, "app", "public", "t", Operation.CREATE,
                "{\"id\": " + lsn + ordinal + "}", null, after, List.of("id", "note"), context);
    }

    @Test
    void storesEveryValueAsGivenWithAndWithoutContexts() {
        String url = TestPostgres.newDatabase("changelog_copy");
        ChangeLog log = ChangeLog.at(url);
        log.migrate();
        try (ChangeLogWriter writer = log.openWriter("copy", c -> { })) {
            // No context in the whole batch; the escapes sit at the start, middle and end of values.
            writer.write(List.of(
                    row(0x10, 0, T1, "{\"note\": \"tab\\there\"}", "{}"),
                    row(0x10, 1, T1, "{\"note\": \"\\\\back\\nslash\\r\"}", "{}"),
                    row(0x20, 0, T2, "{\"note\": \"plain\"}", "{}")), 0x21);
            // Some contexts: every row carries its own, including the empty one.
            writer.write(List.of(
                    row(0x30, 0, T2, "{\"note\": \"a\"}", "{}"),
                    row(0x30, 1, T2, "{\"note\": \"b\"}", "{\"user\": \"tab\\tuser\"}")), 0x31);
        }

        assertThat(TestPostgres.rows(url, "SELECT position, transaction_id, committed_at AT TIME ZONE 'UTC',"
                + " after->>'note', context::text, changed_columns::text FROM annals.changes ORDER BY position"))
                .containsExactly(
                        "0000000000000010.00000000 | 916 | 2025-03-04 05:06:07.123456 | tab\there | {} | {id,note}",
                        "0000000000000010.00000001 | 916 | 2025-03-04 05:06:07.123456 | \\back\nslash\r | {} | {id,note}",
                        "0000000000000020.00000000 | 932 | 2025-03-04 05:06:08 | plain | {} | {id,note}",
                        "0000000000000030.00000000 | 948 | 2025-03-04 05:06:08 | a | {} | {id,note}",
                        "0000000000000030.00000001 | 948 | 2025-03-04 05:06:08 | b | {\"user\": \"tab\\tuser\"} | {id,note}");
        assertThat(log.checkpoint("copy")).hasValueSatisfying(cp -> assertThat(cp.position())
                .isEqualTo(Position.of(0x30, 1)));
    }

    /** The commit-time text (ChangeLogWriter.timestampText) is read back as the same instant. */
    @Test
    void commitTimesAtTheEdgesArriveAsTheSameInstant() {
        String url = TestPostgres.newDatabase("changelog_times");
        ChangeLog log = ChangeLog.at(url);
        log.migrate();
        List<Instant> times = List.of(Instant.parse("1969-12-31T23:59:59.999999Z"), Instant.parse("0001-01-01T00:00:00Z"),
                Instant.parse("9999-12-31T23:59:59.999999Z"), Instant.parse("2025-03-04T05:06:07.0000006Z"),
                Instant.parse("2025-03-04T05:06:07.1234564Z"), Instant.parse("2000-02-29T12:00:00.5Z"));
        try (ChangeLogWriter writer = log.openWriter("times", c -> { })) {
            for (int i = 0; i < times.size(); i++) {
                writer.write(List.of(row(0x100 + i, 0, times.get(i), "{\"note\": \"t\"}", "{}")), 0x101 + i);
            }
        }
        assertThat(TestPostgres.rows(url, "SELECT to_char(committed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
                + " FROM annals.changes ORDER BY position")).containsExactly(
                "1969-12-31 23:59:59.999999", "0001-01-01 00:00:00.000000", "9999-12-31 23:59:59.999999",
                // PostgreSQL keeps microseconds and rounds what is below them.
                "2025-03-04 05:06:07.000001", "2025-03-04 05:06:07.123456", "2000-02-29 12:00:00.500000");
    }
}
