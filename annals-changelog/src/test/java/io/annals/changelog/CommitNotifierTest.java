package io.annals.changelog;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.postgresql.ds.PGSimpleDataSource;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Signals that arrive within the gap after a notification coalesce into one notification, sent
 * once the gap has passed and carrying the newest value. The gap is 200 ms here (5 ms in use), so
 * that the test does not depend on scheduling noise.
 */
class CommitNotifierTest {

    private static final long GAP_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

    @Test
    void signalsWithinTheGapCoalesceIntoOneNotificationSentAfterIt() throws Exception {
        String url = TestPostgres.newDatabase("notifier");
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(url);
        try (Connection listener = TestPostgres.connect(url);
             CommitNotifier notifier = new CommitNotifier(ds, "notifier_test", "notifier-test", GAP_NANOS)) {
            try (Statement s = listener.createStatement()) {
                s.execute("LISTEN notifier_test");
            }
            notifier.signal(1);
            List<String> first = await(listener, "1");
            long firstArrived = System.nanoTime();
            assertThat(first).containsExactly("1");

            // Well inside the gap: all of these wait for it, and only the newest is sent.
            for (int v = 2; v <= 51; v++) notifier.signal(v);
            List<String> rest = await(listener, "51");
            long gap = System.nanoTime() - firstArrived;

            assertThat(rest).containsExactly("51");
            assertThat(gap).as("the second notification waited for the gap").isGreaterThan(GAP_NANOS * 3 / 4);
        }
    }

    /** The payloads received until {@code last} arrives (or 10 s pass). */
    private static List<String> await(Connection listener, String last) throws SQLException {
        List<String> out = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline && (out.isEmpty() || !out.getLast().equals(last))) {
            PGNotification[] batch = listener.unwrap(PGConnection.class).getNotifications(50);
            if (batch != null) for (PGNotification n : batch) out.add(n.getParameter());
        }
        return out;
    }
}
