package io.annals.events;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Generated event ids are version 7 UUIDs: unique, and ordered by the millisecond they were made in. */
class EventIdTest {

    @Property(tries = 20)
    void idsAreVersion7UniqueAndOrderedByTime(@ForAll @IntRange(min = 1, max = 5_000) int count) throws Exception {
        List<UUID> ids = new ArrayList<>();
        long before = System.currentTimeMillis();
        for (int i = 0; i < count; i++) ids.add(EventData.newEventId());
        Thread.sleep(2);
        UUID later = EventData.newEventId();
        long after = System.currentTimeMillis();
        assertThat(new HashSet<>(ids)).hasSize(count);
        for (UUID id : ids) {
            assertThat(id.version()).isEqualTo(7);
            assertThat(id.variant()).isEqualTo(2);
            long millis = id.getMostSignificantBits() >>> 16;
            assertThat(millis).isBetween(before, after);
            // Unsigned order of the high bits (what PostgreSQL's uuid order compares first) follows time.
            assertThat(Long.compareUnsigned(id.getMostSignificantBits() >>> 16, later.getMostSignificantBits() >>> 16)).isNegative();
        }
    }
}
