package io.annals.capture;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The status tells how many changes are stored: counted while that is cheap, since the planner's
 * estimate of a new or small change log is often zero; otherwise an estimate that says so.
 */
class CaptureStatusTest extends CaptureTestSupport {

    private String withFiveChanges() {
        String url = newDatabase("status_count");
        sql(url, "CREATE TABLE t (id int PRIMARY KEY)");
        try (CaptureWorker worker = start(url)) {
            sql(url, "INSERT INTO t SELECT generate_series(1, 5)");
            worker.awaitCaughtUp(CATCH_UP);
        }
        return url;
    }

    @Test
    void aSmallChangeLogIsCounted() {
        String url = withFiveChanges();
        CaptureStatus status = CaptureStatus.read(url, null, null);
        assertThat(status.storedChanges()).isEqualTo(5);
        assertThat(status.storedChangesExact()).isTrue();
        assertThat(status.describe()).endsWith("\nChanges stored   5");
    }

    @Test
    void aLargeChangeLogIsEstimatedAndSaysSo() {
        String url = withFiveChanges();
        // Low thresholds make five changes "large", so the estimate is used as for a big change log.
        // Without statistics the estimate is 0, which any threshold above 0 would count instead.
        assertThat(CaptureStatus.read(url, null, null, 5).storedChanges()).as("counted: no statistics yet").isEqualTo(5);
        CaptureStatus unanalyzed = CaptureStatus.read(url, null, null, 0);
        assertThat(unanalyzed.storedChangesExact()).isFalse();
        assertThat(unanalyzed.statisticsAnalyzedAt()).isNull();
        assertThat(unanalyzed.describe())
                .endsWith("\nChanges stored   ~0 (an estimate; part of the change log has no table statistics yet)");

        Instant before = Instant.now().minusSeconds(1);
        // Each partition analyzed, as autovacuum does; never the parent.
        sql(url, "DO $$ DECLARE p regclass; BEGIN FOR p IN SELECT inhrelid::regclass FROM pg_inherits"
                + " WHERE inhparent = 'annals.changes'::regclass LOOP EXECUTE format('ANALYZE %s', p); END LOOP; END $$");
        CaptureStatus analyzed = CaptureStatus.read(url, null, null, 5);
        assertThat(analyzed.storedChangesExact()).isFalse();
        assertThat(analyzed.storedChanges()).isEqualTo(5);
        assertThat(analyzed.statisticsAnalyzedAt()).isBetween(before, Instant.now().plus(Duration.ofSeconds(1)));
        assertThat(analyzed.describe()).endsWith("\nChanges stored   ~5 (an estimate from the table statistics of "
                + analyzed.statisticsAnalyzedAt().truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + ")");
    }

    @Test
    void noChangeLogYetIsNoChange() {
        String url = newDatabase("status_none");
        sql(url, "SELECT pg_create_logical_replication_slot('annals_' || current_database(), 'pgoutput')");
        CaptureStatus status = CaptureStatus.read(url, null, null);
        assertThat(status.storedChanges()).isZero();
        assertThat(status.describe()).endsWith("\nChanges stored   0");
    }
}
