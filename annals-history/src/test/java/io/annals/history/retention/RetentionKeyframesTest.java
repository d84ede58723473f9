package io.annals.history.retention;

import io.annals.changelog.Position;
import io.annals.history.AuditTrail;
import io.annals.history.HistoryTestSupport;
import io.annals.history.keyframes.Keyframe;
import io.annals.history.timetravel.AsOf;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static io.annals.history.retention.RetentionTest.count;
import static io.annals.history.retention.RetentionTest.table;
import static org.assertj.core.api.Assertions.assertThat;

/** Retention and keyframes: the baseline becomes a keyframe, older keyframes go, later ones stay exact. */
class RetentionKeyframesTest extends HistoryTestSupport {

    @Test
    void theBaselineBecomesAKeyframeAndKeyframesBeforeTheCutOffGoWithThePartitions() {
        String url = newChangeLog("retention_keyframes");
        RetentionTest.Fixture f = new RetentionTest.Fixture();
        f.log.into(url);
        AuditTrail trail = AuditTrail.of(url);
        Position january = f.log.rows.get(4).position(); // orders 1 paid, customers 1 created
        trail.keyframes().build("orders", january);
        trail.keyframes().build("orders", f.mar20);
        trail.keyframes().build("customers", january);
        List<AsOf> cuts = List.of(trail.asOf(Instant.parse("2025-03-01T00:00:00Z")), trail.asOf(f.mar1),
                trail.asOf(f.mar20), trail.asOf(f.apr2));
        List<String> before = new ArrayList<>();
        for (AsOf cut : cuts) before.add(table(cut, "orders") + table(cut, "customers"));

        Retention.Plan applied = trail.retention().keepFrom(Instant.parse("2025-03-15T00:00:00Z")).apply();
        assertThat(applied.applied()).isTrue();

        String lsn = f.feb28.toString().substring(0, 16);
        Position baselineEnd = Position.parse(lsn + ".00000003");
        assertThat(trail.keyframes().list()).extracting(k -> k.table() + " " + k.position() + " " + k.rows() + " " + k.origin())
                .containsExactly(
                        "public.customers " + baselineEnd + " 1 RETENTION",
                        "public.orders " + baselineEnd + " 2 RETENTION",
                        "public.orders " + f.mar20 + " 3 MANUAL");
        assertThat(count(url, "SELECT count(*) FROM annals.keyframe_rows")).isEqualTo(1 + 2 + 3);

        List<String> after = new ArrayList<>();
        for (AsOf cut : List.of(trail.asOf(Instant.parse("2025-03-01T00:00:00Z")), trail.asOf(f.mar1),
                trail.asOf(f.mar20), trail.asOf(f.apr2))) {
            after.add(table(cut, "orders") + table(cut, "customers"));
        }
        assertThat(after).isEqualTo(before);

        // a keyframe built after retention starts from the retention keyframe: the dropped changes are not needed
        Keyframe k = trail.keyframes().build("customers", f.apr2);
        assertThat(k.rows()).isEqualTo(1);
        assertThat(table(trail.asOf(f.apr2), "customers")).contains("Bo");
    }
}
