package io.annals.capture;

import io.annals.testkit.TestPostgres;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The worker's Micrometer meters: counts per change and per source transaction, and the per-batch stage breakdown. */
class CaptureMetricsTest extends CaptureTestSupport {

    private static final List<String> STAGES = List.of("stream", "fill", "queue", "prefetch", "render", "copy", "commit");

    @Test
    void everyStoredBatchRecordsEveryStageOnce() throws InterruptedException {
        String url = newDatabase("cap_metrics");
        sql(url, "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (CaptureWorker worker = start(options(url).meterRegistry(registry))) {
            // A trickle: each transaction reaches an idle writer, so each is a batch of its own.
            for (int i = 1; i <= 3; i++) {
                TestPostgres.transaction(url, "INSERT INTO items VALUES (" + i + ", 'item " + i + "')");
                worker.awaitCaughtUp(CATCH_UP);
            }
            sql(url, "INSERT INTO items SELECT g, 'bulk' FROM generate_series(4, 503) g");
            sql(url, "UPDATE items SET name = 'renamed' WHERE id <= 3");
            worker.awaitCaughtUp(CATCH_UP);
        }

        Counter changes = registry.find("annals.capture.changes").counter();
        assertThat(changes).isNotNull();
        assertThat(changes.count()).isEqualTo(506.0);
        long batches = registry.find("annals.capture.batch.size").summary().count();
        assertThat(batches).isBetween(5L, 506L);
        Timer latency = registry.find("annals.capture.latency").timer();
        assertThat(latency).isNotNull();
        // One sample per source transaction in each batch that holds some of it: a transaction cut
        // where the stream paused counts once in each part.
        assertThat(latency.count()).as("latency samples").isBetween(5L, Math.max(5L, batches));

        for (String stage : STAGES) {
            Timer t = registry.find("annals.capture.batch.stage").tag("stage", stage).timer();
            assertThat(t).as("stage timer %s", stage).isNotNull();
            assertThat(t.count()).as("samples of stage %s: one per stored batch", stage).isEqualTo(batches);
        }
        for (String stage : List.of("copy", "commit", "stream")) {
            Timer t = registry.find("annals.capture.batch.stage").tag("stage", stage).timer();
            assertThat(t.totalTime(TimeUnit.NANOSECONDS)).as("time spent in stage %s", stage).isPositive();
        }
    }

    @Test
    void aLingerGathersATrickleIntoFewerBatchesAndStoresEveryChange() throws InterruptedException {
        String url = newDatabase("cap_linger");
        sql(url, "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (CaptureWorker worker = start(options(url).meterRegistry(registry).linger(java.time.Duration.ofMillis(400)))) {
            worker.awaitCaughtUp(CATCH_UP);
            long before = registry.find("annals.capture.batch.size").summary().count();
            // 20 one-row transactions within about 100 ms: without a linger each reaches an idle
            // writer and is a batch of its own (the test above); with 400 ms they gather.
            long started = System.nanoTime();
            for (int i = 1; i <= 20; i++) TestPostgres.transaction(url, "INSERT INTO items VALUES (" + i + ", 'item')");
            long writingMillis = (System.nanoTime() - started) / 1_000_000;
            org.junit.jupiter.api.Assumptions.assumeTrue(writingMillis < 1_000,
                    "20 one-row transactions took " + writingMillis + " ms: too slow a machine for this timing");
            // A sync marker (awaitCaughtUp) hands the batch over at once: let the linger run out first.
            Thread.sleep(800);
            worker.awaitCaughtUp(CATCH_UP);
            long batches = registry.find("annals.capture.batch.size").summary().count() - before;
            assertThat(batches).as("batches for 20 transactions written in %d ms", writingMillis)
                    .isBetween(1L, 4L);
            assertThat(registry.find("annals.capture.latency").timer().max(TimeUnit.MILLISECONDS))
                    .as("the first change waited for the linger").isGreaterThanOrEqualTo(300.0);
        }
        assertThat(TestPostgres.rows(url, "SELECT count(*) FROM annals.changes WHERE \"table\" = 'items'"))
                .containsExactly("20");
    }

    @Test
    void aLingerOutOfRangeIsRefusedWithItsBounds() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> CaptureOptions.builder("jdbc:postgresql://x/y")
                        .linger(java.time.Duration.ofSeconds(2)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("linger must be between 0 and 1000 ms");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> CaptureOptions.builder("jdbc:postgresql://x/y")
                        .linger(java.time.Duration.ofMillis(-1)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not -1.0 ms");
    }
}
