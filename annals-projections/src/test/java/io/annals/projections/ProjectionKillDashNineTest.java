package io.annals.projections;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.sql.Connection;
import java.sql.Statement;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The projector in a child JVM, sent SIGKILL at random moments while the source keeps writing
 * and capture keeps storing; the change log and the read table each live in a database of their
 * own. A trigger on the read table records every row the projector commits, with the change it
 * came from, so a batch applied twice shows as the same change recorded twice.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ProjectionKillDashNineTest {

    @Test
    void killedAtRandomMomentsUnderLoadEveryChangeIsAppliedExactlyOnce() throws Exception {
        long seed = Long.getLong("annals.crash.seed", System.nanoTime());
        Random random = new Random(seed);
        String source = TestPostgres.newDatabase("proj_kill_source");
        String logDb = TestPostgres.newDatabase("proj_kill_log");
        String output = TestPostgres.newDatabase("proj_kill_out");
        TestPostgres.execute(source, "CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, amount numeric(10,2))");
        TestPostgres.execute(output,
                "CREATE TABLE order_view (canonical_type text NOT NULL, canonical_pk jsonb NOT NULL, status text NOT NULL,"
                        + " amount numeric(10,2), source_position text)",
                "CREATE INDEX ON order_view (canonical_type, canonical_pk)",
                "CREATE TABLE applied (seq bigserial PRIMARY KEY, canonical_pk jsonb NOT NULL, source_position text NOT NULL)",
                "CREATE FUNCTION record_applied() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                        + " INSERT INTO applied (canonical_pk, source_position) VALUES (NEW.canonical_pk, NEW.source_position);"
                        + " RETURN NEW; END $$",
                "CREATE TRIGGER record_applied AFTER INSERT ON order_view FOR EACH ROW EXECUTE FUNCTION record_applied()");
        CaptureOptions options = CaptureOptions.builder(source).target(logDb).slot("proj_kill")
                .heartbeatInterval(Duration.ofMillis(200)).build();
        try (CaptureWorker worker = CaptureWorker.start(options)) {
            AtomicBoolean writing = new AtomicBoolean(true);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread load = Thread.ofPlatform().name("proj-kill-load").start(() -> {
                Random r = new Random(seed + 1);
                try (Connection c = TestPostgres.connect(source); Statement s = c.createStatement()) {
                    for (int i = 0; writing.get(); i++) {
                        int id = r.nextInt(200);
                        s.execute("INSERT INTO orders VALUES (" + id + ", 'new', " + r.nextInt(10_000) / 100.0 + ")"
                                + " ON CONFLICT (id) DO UPDATE SET status = 'seen " + i + "', amount = orders.amount + 1");
                        if (r.nextInt(5) == 0) s.execute("DELETE FROM orders WHERE id = " + r.nextInt(200));
                        if (r.nextInt(40) == 0) s.execute("UPDATE orders SET amount = CASE WHEN amount < 1000000 THEN amount * 2 ELSE 1 END WHERE id % 7 = " + r.nextInt(7));
                        Thread.sleep(r.nextInt(3));
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            int killedMidway = 0;
            for (int kill = 0; kill < 4; kill++) {
                Process child = start(logDb, source, output);
                Thread.sleep(random.nextInt(1_500, 3_500));
                child.destroyForcibly(); // SIGKILL: no shutdown hook, no rollback from the client
                assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
                if (count(output, "SELECT count(*) FROM applied") > 0) killedMidway++;
            }
            writing.set(false);
            load.join();
            assertThat(failure.get()).as("the load").isNull();
            worker.awaitCaughtUp(Duration.ofSeconds(60));

            // What the read table must end as: each live order's last change.
            List<String> expected = column(logDb, "SELECT DISTINCT ON (primary_key) primary_key::text || ' ' || position"
                    + " || ' ' || operation FROM annals.changes WHERE \"table\" = 'orders' ORDER BY primary_key, position DESC");
            expected.removeIf(line -> line.endsWith(" DELETE"));
            List<String> want = expected.stream().map(l -> l.substring(0, l.lastIndexOf(' '))).sorted().toList();
            Process finisher = start(logDb, source, output);
            try {
                long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
                while (!column(output, "SELECT canonical_pk::text || ' ' || source_position FROM order_view ORDER BY 1").equals(want)) {
                    assertThat(System.nanoTime()).as("the restarted projector catches up").isLessThan(deadline);
                    Thread.sleep(200);
                }
                Thread.sleep(500); // a batch applied twice would arrive now
            } finally {
                finisher.destroyForcibly();
                finisher.waitFor(30, TimeUnit.SECONDS);
            }
            assertThat(killedMidway).as("kills that landed after some work was done (seed %s)", seed).isPositive();
            assertThat(want.size()).isGreaterThan(50);
            assertThat(column(output, "SELECT canonical_pk::text || ' ' || source_position FROM order_view ORDER BY 1"))
                    .as("the read table is each order's last change (seed %s)", seed).isEqualTo(want);
            assertThat(column(output, "SELECT canonical_pk::text || ' ' || source_position FROM applied"
                    + " GROUP BY 1 HAVING count(*) > 1")).as("changes applied twice (seed %s)", seed).isEmpty();
            assertThat(column(output, "SELECT a.seq::text FROM applied a JOIN applied b ON a.canonical_pk = b.canonical_pk"
                    + " AND b.seq > a.seq AND b.source_position < a.source_position"))
                    .as("an older change applied after a newer one (seed %s)", seed).isEmpty();
            assertThat(count(output, "SELECT count(*) FROM order_view WHERE source_position IS NULL")).isZero();
        }
        for (String db : List.of(source, logDb, output)) Captured.drop(db);
    }

    private static Process start(String logDb, String source, String output) throws Exception {
        Path log = Path.of("target", "kill-tests");
        Files.createDirectories(log);
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), ProjectorProcess.class.getName(), logDb, source, output));
        return new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.resolve("killed-projector.log").toFile())).start();
    }

    private static long count(String url, String sql) {
        return Long.parseLong(TestPostgres.rows(url, sql).get(0));
    }

    private static List<String> column(String url, String sql) {
        return TestPostgres.rows(url, sql);
    }
}
