package io.annals.capture.crash;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bounded resources on the quiet side: once caught up with an idle source, the worker must stay quiet.
 *
 * <p>With the change log in the source database (the default target), every checkpoint the worker commits
 * is itself a transaction in the source's WAL, which the slot streams back to the worker. If the worker
 * answers each such transaction with another checkpoint write, it never rests: it commits hundreds of
 * transactions a second and grows the WAL on a source where nothing happens.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class IdleSourceTest {

    @Test
    void workerCaughtUpWithAnIdleSourceWritesNothing() throws Exception {
        String slot = "idle_source";
        try (CrashTestDatabase db = CrashTestDatabase.create(slot, slot)) {
            TestPostgres.execute(db.url, "CREATE TABLE t (id int PRIMARY KEY, name text)",
                    "INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 100) g");
            try (CaptureWorker worker = CaptureWorker.start(CaptureOptions.builder(db.url).slot(slot).build())) {
                worker.awaitCaughtUp(Duration.ofSeconds(30));
                Thread.sleep(2_000); // let the last batch and status update settle
                // pg_current_wal_lsn() is cluster-wide: the shared test server's background work (autovacuum
                // of other tests' databases, their cleanup) can write WAL in any one window. A worker that
                // keeps writing writes in every window, so the quietest of three windows is the measure.
                long wal0 = 0, wal1 = Long.MAX_VALUE, commits0 = 0, commits1 = 0;
                String checkpoint0 = null, checkpoint1 = null;
                for (int window = 0; window < 3 && wal1 - wal0 >= 8 * 1024; window++) {
                    wal0 = db.queryLong("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn");
                    checkpoint0 = db.queryString("SELECT confirmed_lsn::text FROM annals.checkpoints WHERE consumer = '" + slot + "'");
                    commits0 = db.queryLong("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
                    Thread.sleep(3_000);
                    commits1 = db.queryLong("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
                    wal1 = db.queryLong("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn");
                    checkpoint1 = db.queryString("SELECT confirmed_lsn::text FROM annals.checkpoints WHERE consumer = '" + slot + "'");
                }
                CaptureProcess.note(String.format("idle source, 3 s after catching up: %d commits in the database, WAL grew %d"
                        + " bytes, checkpoint confirmed_lsn %s -> %s", commits1 - commits0, wal1 - wal0, checkpoint0, checkpoint1));
                assertThat(wal1 - wal0).as("WAL bytes written in 3 s on an idle source (%d commits; checkpoint %s -> %s)",
                        commits1 - commits0, checkpoint0, checkpoint1).isLessThan(8 * 1024);
                assertThat(commits1 - commits0).as("transactions committed in 3 s on an idle source").isLessThan(30);
            }
        }
    }
}
