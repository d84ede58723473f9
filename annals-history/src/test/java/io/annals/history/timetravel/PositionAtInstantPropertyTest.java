package io.annals.history.timetravel;

import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.history.AuditTrail;
import io.annals.history.HistoryTestSupport;
import io.annals.testkit.TestPostgres;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link AuditTrail#asOf(Instant)} resolves an instant by a binary search over commit LSNs; this
 * checks it against the plain definition (the last position committed at or before the instant)
 * on logs with uneven LSN gaps, several changes per transaction, and transactions sharing a commit
 * time.
 */
class PositionAtInstantPropertyTest {

    private static final String URL = HistoryTestSupport.newChangeLog("position_at");

    @Property(tries = 40)
    void theBinarySearchFindsTheLastPositionCommittedAtOrBeforeTheInstant(
            @ForAll @Size(min = 0, max = 60) List<@LongRange(min = 1, max = 1L << 40) Long> lsnGaps,
            @ForAll @Size(min = 60, max = 60) List<@IntRange(min = 0, max = 3) Integer> secondsApart,
            @ForAll @Size(min = 60, max = 60) List<@IntRange(min = 1, max = 3) Integer> changesPerTransaction,
            @ForAll @Size(min = 8, max = 8) List<@IntRange(min = -5, max = 200) Integer> probes) {
        TestPostgres.execute(URL, "TRUNCATE annals.changes");
        List<HistoryTestSupport.Row> rows = new ArrayList<>();
        long lsn = 0x100;
        Instant at = HistoryTestSupport.T0;
        for (int tx = 0; tx < lsnGaps.size(); tx++) {
            lsn += lsnGaps.get(tx);
            at = at.plusSeconds(secondsApart.get(tx));
            for (int o = 0; o < changesPerTransaction.get(tx); o++) {
                rows.add(new HistoryTestSupport.Row(Position.of(lsn, o), tx, at, "public", "t", Operation.CREATE,
                        "{\"id\": " + rows.size() + "}", null, "{\"id\": " + rows.size() + "}", List.of("id"), "{}"));
            }
        }
        HistoryTestSupport.insert(URL, rows);
        AuditTrail trail = AuditTrail.of(URL);
        for (int offset : probes) {
            Instant instant = HistoryTestSupport.T0.plusSeconds(offset);
            Optional<Position> expected = rows.stream().filter(r -> !r.committedAt().isAfter(instant))
                    .map(HistoryTestSupport.Row::position).max(Position::compareTo);
            assertThat(trail.asOf(instant).position()).as("position at %s", instant).isEqualTo(expected);
        }
    }
}
