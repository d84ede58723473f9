package io.annals.changelog;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The change log's own timestamp text says the same instant as {@code java.time}'s formatter would.
 * (That PostgreSQL reads it back to the same instant is {@link ChangeLogWriterCopyTest}'s concern.)
 */
class TimestampTextTest {

    private static final DateTimeFormatter REFERENCE = DateTimeFormatter.ofPattern("uuuu-MM-dd HH:mm:ss");

    private static String reference(Instant t) {
        String base = LocalDateTime.ofEpochSecond(t.getEpochSecond(), 0, ZoneOffset.UTC).format(REFERENCE);
        int nanos = t.getNano();
        String fraction = nanos == 0 ? "" : nanos % 1000 == 0 ? String.format(".%06d", nanos / 1000) : String.format(".%09d", nanos);
        return base + fraction + "+00";
    }

    @Property(tries = 2000)
    void matchesTheFormatterForYearsOneToNineThousandNineHundredNinetyNine(
            @ForAll @LongRange(min = -62_135_596_800L, max = 253_402_300_799L) long epochSecond,
            @ForAll @IntRange(min = 0, max = 999_999_999) int nanos, @ForAll boolean wholeMicros) {
        Instant t = Instant.ofEpochSecond(epochSecond, wholeMicros ? nanos / 1000 * 1000 : nanos);
        assertThat(ChangeLogWriter.timestampText(t)).isEqualTo(reference(t));
    }

    @Test
    void edges() {
        assertThat(ChangeLogWriter.timestampText(Instant.parse("2026-12-06T01:02:03.456789Z"))).isEqualTo("2026-12-06 01:02:03.456789+00");
        assertThat(ChangeLogWriter.timestampText(Instant.parse("2026-12-06T00:00:00Z"))).isEqualTo("2026-12-06 00:00:00+00");
        assertThat(ChangeLogWriter.timestampText(Instant.parse("1969-12-31T23:59:59.000000001Z"))).isEqualTo("1969-12-31 23:59:59.000000001+00");
        assertThat(ChangeLogWriter.timestampText(Instant.parse("0001-01-01T00:00:00Z"))).isEqualTo("0001-01-01 00:00:00+00");
        assertThat(ChangeLogWriter.timestampText(Instant.parse("9999-12-31T23:59:59.999999Z"))).isEqualTo("9999-12-31 23:59:59.999999+00");
        // Outside 1-9999: Instant's own form, as before.
        Instant far = Instant.parse("+10000-01-01T00:00:00Z");
        assertThat(ChangeLogWriter.timestampText(far)).isEqualTo(far.toString());
        Instant epochZero = Instant.EPOCH;
        assertThat(ChangeLogWriter.timestampText(epochZero)).isEqualTo("1970-01-01 00:00:00+00");
    }
}
