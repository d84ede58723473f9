package io.annals.history.timetravel;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class InstantsTest {

    @Test
    void acceptsIsoInstantsOffsetsAndUtcDatesWithOptionalTimes() {
        Instant t = Instant.parse("2026-11-23T10:15:30Z");
        assertThat(Instants.parse("2026-11-23T10:15:30Z")).isEqualTo(t);
        assertThat(Instants.parse("2026-11-23T11:15:30+01:00")).isEqualTo(t);
        assertThat(Instants.parse("  2026-11-23T05:15:30-05:00 ")).isEqualTo(t);
        assertThat(Instants.parse("2026-11-23 10:15:30")).isEqualTo(t);
        assertThat(Instants.parse("2026-11-23T10:15:30")).isEqualTo(t);
        assertThat(Instants.parse("2026-11-23 10:15:30Z")).isEqualTo(t);
        assertThat(Instants.parse("2026-11-23 10:15")).isEqualTo(Instant.parse("2026-11-23T10:15:00Z"));
        assertThat(Instants.parse("2026-11-23")).isEqualTo(Instant.parse("2026-11-23T00:00:00Z"));
        assertThat(Instants.parse("2026-11-23 10:15:30.123456")).isEqualTo(Instant.parse("2026-11-23T10:15:30.123456Z"));
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {"", "  ", "yesterday", "2026-13-01", "2026-11-31", "2026-11-23 25:00", "2026-11-23T10",
            "23/11/2026", "2026-11-23T10:15:30+25:00", "1763892930", "2026-11-23 10:15 UTC"})
    void rejectsAnythingElseWithAnExample(String text) {
        assertThatThrownBy(() -> Instants.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("Not an instant: '" + text + "'; use e.g. 2026-11-23T10:15:30Z");
    }

    @Property
    void everyInstantRoundTripsThroughItsIsoFormsAtAnyOffset(@ForAll("instants") Instant instant,
                                                             @ForAll @IntRange(min = -18 * 60, max = 18 * 60) int offsetMinutes) {
        assertThat(Instants.parse(instant.toString())).isEqualTo(instant);
        ZoneOffset offset = ZoneOffset.ofTotalSeconds(offsetMinutes * 60);
        assertThat(Instants.parse(instant.atOffset(offset).toString())).isEqualTo(instant);
        String utcLocal = instant.atOffset(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSSSSS"));
        assertThat(Instants.parse(utcLocal)).isEqualTo(instant);
    }

    @Provide
    Arbitrary<Instant> instants() {
        return Arbitraries.longs().between(Instant.parse("1970-01-01T00:00:00Z").getEpochSecond(),
                        Instant.parse("9999-12-31T23:59:59Z").getEpochSecond())
                .flatMap(s -> Arbitraries.integers().between(0, 999_999_999).map(n -> Instant.ofEpochSecond(s, n)));
    }
}
