package io.annals.capture;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class HeartbeatAndWalWarningTest {

    @Test
    void heartbeatsMoveTheSlotOnAnIdleDatabaseAndRetainedWalWarnsLoudly() throws Exception {
        String url = TestPostgres.newDatabase("heartbeat");
        TestPostgres.execute(url, "CREATE TABLE t (id int PRIMARY KEY)");
        Logger logger = (Logger) LoggerFactory.getLogger(CaptureWorker.class);
        ListAppender<ILoggingEvent> events = new ListAppender<>();
        events.start();
        logger.addAppender(events);
        try (CaptureWorker worker = CaptureWorker.start(CaptureOptions.builder(url)
                .heartbeatInterval(Duration.ofMillis(200)).walWarningBytes(1).build())) {
            worker.awaitCaughtUp(Duration.ofSeconds(30));
            String first = confirmed(url, worker.slotName());
            // Nothing happens in this database; heartbeats alone must move the confirmed position.
            await().atMost(Duration.ofSeconds(20)).until(() -> !confirmed(url, worker.slotName()).equals(first));
            await().atMost(Duration.ofSeconds(20)).until(() -> events.list.stream()
                    .anyMatch(e -> e.getFormattedMessage().contains("retains") && e.getFormattedMessage().contains("warning threshold")));
        } finally {
            logger.detachAppender(events);
        }
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM annals.changes")) {
            rs.next();
            assertThat(rs.getLong(1)).as("heartbeats are not changes").isZero();
        }
    }

    private static String confirmed(String url, String slot) throws Exception {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '" + slot + "'")) {
            rs.next();
            return rs.getString(1);
        }
    }
}
