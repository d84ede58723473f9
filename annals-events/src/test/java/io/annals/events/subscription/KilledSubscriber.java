package io.annals.events.subscription;

import io.annals.events.EventStore;

import java.sql.PreparedStatement;
import java.time.Duration;

/**
 * The child process of {@link KillDashNineTest}: an exactly-once subscription projecting every
 * event into a table, slowly enough that a kill lands inside a batch. Runs until killed.
 */
public final class KilledSubscriber {

    private KilledSubscriber() {
    }

    public static void main(String[] args) throws Exception {
        String url = args[0];
        String table = args[1];
        EventStore store = EventStore.at(url);
        Subscription.to(store, "killed").batchSize(25).pollInterval(Duration.ofMillis(200)).startTransactional((e, c) -> {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table + " (event_id) VALUES (?)")) {
                ps.setObject(1, e.eventId());
                ps.executeUpdate();
            }
            Thread.sleep(1);
        });
        System.out.println("subscribed");
        Thread.sleep(Long.MAX_VALUE);
    }
}
