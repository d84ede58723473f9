package io.annals.replication;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.testkit.TestPostgres;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Fresh databases on the shared embedded PostgreSQL for one test, with a capture worker feeding
 * each source's change log; on close, workers stop and databases go, with their slots.
 */
final class Databases implements AutoCloseable {

    private final List<String> urls = new ArrayList<>();
    private final List<CaptureWorker> workers = new ArrayList<>();

    String create(String prefix) {
        String url = TestPostgres.newDatabase(prefix);
        urls.add(url);
        return url;
    }

    /** Captures {@code source} into its own change log, with a short heartbeat so that it catches up fast. */
    CaptureWorker capture(String source) {
        CaptureWorker w = CaptureWorker.start(CaptureOptions.builder(source).heartbeatInterval(Duration.ofMillis(200)).build());
        workers.add(w);
        return w;
    }

    @Override
    public void close() {
        for (CaptureWorker w : workers) w.close();
        for (String url : urls) {
            String name = url.substring(url.lastIndexOf('/') + 1, url.indexOf('?') < 0 ? url.length() : url.indexOf('?'));
            try (Connection c = TestPostgres.connect(url.replace("/" + name, "/postgres")); Statement s = c.createStatement()) {
                for (int i = 0; i < 50; i++) {
                    try {
                        s.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '" + name + "'");
                        break;
                    } catch (SQLException active) {
                        Thread.sleep(100); // the worker's walsender is still going away
                    }
                }
                s.execute("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
            } catch (SQLException | RuntimeException e) {
                // Best effort: a leftover database costs disk space only.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
