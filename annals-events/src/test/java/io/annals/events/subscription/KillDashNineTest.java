package io.annals.events.subscription;

import io.annals.events.EventData;
import io.annals.events.EventStore;
import io.annals.events.ExpectedVersion;
import io.annals.events.GlobalPosition;
import io.annals.events.RecordedEvent;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An exactly-once subscription in a child JVM, killed with SIGKILL at random moments while it
 * projects, then restarted: in the end every event is projected exactly once.
 */
class KillDashNineTest {

    static final int EVENTS = 1_500;

    @Test
    void killedAtRandomMomentsTheProjectionEndsWithEveryEventExactlyOnce() throws Exception {
        String url = TestPostgres.newDatabase("events_kill");
        GlobalPosition last;
        try (EventStore store = EventStore.at(url)) {
            store.migrate();
            TestPostgres.execute(url, "CREATE TABLE projected (event_id uuid NOT NULL)"); // no key: duplicates must be countable
            for (int b = 0; b < EVENTS / 50; b++) {
                List<EventData> batch = new ArrayList<>();
                for (int i = 0; i < 50; i++) batch.add(EventData.of("Counted", "{\"i\":" + i + "}"));
                store.append("kill-" + (b % 7), ExpectedVersion.any(), batch);
            }
            List<RecordedEvent> all = new ArrayList<>();
            store.readAll().forEach(all::add);
            last = all.getLast().globalPosition();

            List<GlobalPosition> atKills = new ArrayList<>();
            for (int kill = 0; kill < 4; kill++) {
                GlobalPosition before = checkpoint(store);
                Process child = start(url);
                // Kill it while it projects: a fixed delay raced its JVM's start-up and the speed of the machine, and
                // could land before its first batch or after its last. Once it has moved the checkpoint, a random
                // moment within the next 400 ms falls inside the work left (at least 1 ms per event).
                long started = System.nanoTime();
                while (checkpoint(store).equals(before) && before.compareTo(last) < 0
                        && System.nanoTime() - started < Duration.ofSeconds(30).toNanos()) {
                    Thread.sleep(10);
                }
                Thread.sleep(ThreadLocalRandom.current().nextInt(400));
                child.destroyForcibly(); // SIGKILL: no shutdown hook, no rollback from the client
                assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
                atKills.add(checkpoint(store));
            }
            Process finisher = start(url);
            try {
                long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
                while (checkpoint(store).compareTo(last) < 0) {
                    assertThat(System.nanoTime()).as("the restarted subscription catches up").isLessThan(deadline);
                    Thread.sleep(100);
                }
            } finally {
                finisher.destroyForcibly();
                finisher.waitFor(30, TimeUnit.SECONDS);
            }
            // At least one kill landed mid-way, with work done and work left.
            assertThat(atKills).anyMatch(p -> p.compareTo(GlobalPosition.START) > 0 && p.compareTo(last) < 0);
        }
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*), count(DISTINCT event_id),"
                     + " (SELECT count(*) FROM annals.events e WHERE NOT EXISTS (SELECT 1 FROM projected p WHERE p.event_id = e.event_id))"
                     + " FROM projected")) {
            rs.next();
            assertThat(rs.getLong(1)).as("rows projected").isEqualTo(EVENTS);
            assertThat(rs.getLong(2)).as("distinct events projected").isEqualTo(EVENTS);
            assertThat(rs.getLong(3)).as("events never projected").isZero();
        }
    }

    private static GlobalPosition checkpoint(EventStore store) {
        return Subscription.checkpointOf(store, "killed").orElse(GlobalPosition.START);
    }

    private static Process start(String url) throws Exception {
        Path log = Path.of("target", "kill-tests");
        Files.createDirectories(log);
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), KilledSubscriber.class.getName(), url, "projected");
        return new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.resolve("killed-subscriber.log").toFile())).start();
    }
}
