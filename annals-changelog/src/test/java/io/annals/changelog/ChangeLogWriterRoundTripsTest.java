package io.annals.changelog;

import io.annals.testkit.RoundTrips;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * How many round trips a batch costs the writer's connection, counted by a proxy: each one is a
 * wake-up of the server and of the worker, and under a trickle of small transactions they are
 * most of a batch's latency. The append lock and the checkpoint share one; the last-image read
 * commits on its own (see {@link ChangeLogWriter#lastImages}), so it costs two.
 */
class ChangeLogWriterRoundTripsTest {

    private static final Instant T = Instant.parse("2026-12-06T01:02:03.456789Z");

    private static ChangeRow row(long lsn, long id) {
        return new ChangeRow(Position.of(lsn, 0), lsn, T, "app", "public", "t", Operation.CREATE,
                "{\"id\": " + id + "}", null, "{\"id\": " + id + ", \"note\": \"n" + id + "\"}", List.of("id", "note"), "{}");
    }

    @Test
    void aBatchTakesFourRoundTripsAndALastImageReadTwoMore() throws Exception {
        String url = TestPostgres.newDatabase("changelog_trips");
        ChangeLog.at(url).migrate();
        try (RoundTrips trips = RoundTrips.in(url);
             ChangeLogWriter writer = ChangeLog.at(trips.url()).openWriter("trips", c -> { })) {
            int writerConnection = 0; // the first to connect through the proxy; partitions and the notifier use others
            // The first batch also checks the partitions and prepares the statements.
            writer.write(List.of(row(0x10, 1)), 0x11);

            int before = trips.count(writerConnection);
            writer.write(List.of(row(0x20, 2), row(0x20 + 1, 3)), 0x22);
            assertThat(trips.count(writerConnection) - before)
                    .as("lock and checkpoint, COPY, end of COPY, commit").isEqualTo(4);

            before = trips.count(writerConnection);
            List<String> images = writer.lastImages(List.of(new String[] {"public", "t", "{\"id\": 2}"},
                    new String[] {"public", "t", "{\"id\": 9}"}));
            writer.write(List.of(row(0x30, 4)), 0x31);
            assertThat(trips.count(writerConnection) - before).as("the read and its commit, then the batch as above")
                    .isEqualTo(6);
            assertThat(images).containsExactly("{\"id\": 2, \"note\": \"n2\"}", null);
        }

        List<String> stored = new ArrayList<>(TestPostgres.rows(url, "SELECT position, primary_key::text FROM annals.changes ORDER BY id"));
        assertThat(stored).containsExactly(
                "0000000000000010.00000000 | {\"id\": 1}",
                "0000000000000020.00000000 | {\"id\": 2}",
                "0000000000000021.00000000 | {\"id\": 3}",
                "0000000000000030.00000000 | {\"id\": 4}");
        assertThat(ChangeLog.at(url).checkpoint("trips")).hasValueSatisfying(cp -> {
            assertThat(cp.position()).isEqualTo(Position.of(0x30, 0));
            assertThat(cp.confirmedLsn()).isEqualTo(0x31);
        });
    }
}
