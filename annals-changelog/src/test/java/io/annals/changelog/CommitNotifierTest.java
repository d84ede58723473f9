package io.annals.changelog;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.postgresql.ds.PGSimpleDataSource;

import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A burst of signals becomes a few notifications, never more than one per
 * {@link CommitNotifier#MIN_GAP_NANOS}, and the last one carries the newest value.
 */
class CommitNotifierTest {

    @Test
    void aBurstOfSignalsCoalescesIntoFewNotificationsEndingWithTheNewest() throws Exception {
        String url = TestPostgres.newDatabase("notifier");
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(url);
        List<PGNotification> received = new ArrayList<>();
        try (Connection listener = TestPostgres.connect(url)) {
            try (Statement s = listener.createStatement()) {
                s.execute("LISTEN notifier_test");
            }
            long start = System.nanoTime();
            int signals = 0;
            try (CommitNotifier notifier = new CommitNotifier(ds, "notifier_test", "notifier-test")) {
                // 200 ms of signals, one about every 0.2 ms: a writer committing 5,000 small batches a second.
                while (System.nanoTime() - start < TimeUnit.MILLISECONDS.toNanos(200)) {
                    notifier.signal(++signals);
                    TimeUnit.MICROSECONDS.sleep(200);
                }
                long burst = System.nanoTime() - start;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (System.nanoTime() < deadline
                        && (received.isEmpty() || !received.getLast().getParameter().equals(Integer.toString(signals)))) {
                    PGNotification[] batch = listener.unwrap(PGConnection.class).getNotifications(100);
                    if (batch != null) received.addAll(List.of(batch));
                }
                assertThat(received).isNotEmpty();
                assertThat(received.getLast().getParameter()).isEqualTo(Integer.toString(signals));
                // At most one per gap over the burst, plus the first (sent at once) and the last.
                long allowed = burst / CommitNotifier.MIN_GAP_NANOS + 2;
                assertThat((long) received.size()).isBetween(2L, allowed);
                assertThat(signals).isGreaterThan(received.size() * 3);
            }
        }
        // Values only ever grow.
        long previous = 0;
        for (PGNotification n : received) {
            long v = Long.parseLong(n.getParameter());
            assertThat(v).isGreaterThan(previous);
            previous = v;
        }
    }
}
