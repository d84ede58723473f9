package io.annals.capture.crash;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A large transaction under a small heap: one transaction inserting 2,000,000 rows is captured by a
 * worker whose JVM has {@code -Xmx256m}. Memory must stay bounded whatever the transaction size.
 */
@Timeout(value = 25, unit = TimeUnit.MINUTES)
class LargeTransactionTest {

    static final int ROWS = 2_000_000;
    static final int BATCH_SIZE = 10_000;

    /** PostgreSQL streams the transaction before it commits (pgoutput protocol 2+, the worker's default). */
    @Test
    void twoMillionRowTransactionIsCapturedWithXmx256m() throws Exception {
        captureTwoMillionRows("large_tx", List.of(), true);
    }

    /**
     * The same without streaming (as on PostgreSQL 10 to 13, or with streaming turned off): the server sends
     * the whole transaction at its commit, and the worker stores it in batches that end inside it.
     */
    @Test
    void twoMillionRowTransactionReceivedWholeIsCapturedWithXmx256m() throws Exception {
        captureTwoMillionRows("large_tx_whole", List.of("-Dannals.crash.streaming=false"), false);
    }

    private void captureTwoMillionRows(String slot, List<String> extraJvmOptions, boolean streamed) throws Exception {
        try (CrashTestDatabase db = CrashTestDatabase.create(slot, slot)) {
            TestPostgres.execute(db.url, "CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL)");
            db.prepareSlot(BATCH_SIZE);
            long insertStart = System.nanoTime();
            TestPostgres.execute(db.url, "INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, " + ROWS + ") g");
            long insertMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - insertStart);

            String gcLog = CaptureProcess.logDir().resolve(slot + "-gc.log").toAbsolutePath().toString();
            List<String> jvm = new java.util.ArrayList<>(List.of("-Xmx256m", "-XX:+ExitOnOutOfMemoryError", "-Xlog:gc:file=" + gcLog));
            jvm.addAll(extraJvmOptions);
            CaptureProcess.Exit exit = CaptureProcess.run(slot, jvm, db.url, slot, BATCH_SIZE, "catch-up", Duration.ofMinutes(20));
            CaptureProcess.note(String.format("Large transaction (%s): inserting %,d rows took %d ms; capturing them with -Xmx256m"
                    + " took %d ms (exit %d)%n%s", slot, ROWS, insertMillis, exit.elapsed().toMillis(), exit.code(),
                    CaptureProcess.tail(exit.log(), 3)));
            assertThat(exit.code()).as("the -Xmx256m child must capture the %,d-row transaction and exit 0"
                    + " (an OutOfMemoryError is a bug: memory must not grow with the transaction); %s", ROWS, exit.describe())
                    .isEqualTo(CrashingCapture.CAUGHT_UP);

            try (Connection c = TestPostgres.connect(db.url); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT count(*), count(*) FILTER (WHERE operation = 'CREATE' AND \"table\" = 't'),"
                         + " count(DISTINCT position), count(DISTINCT (primary_key->>'id')::int),"
                         + " min((primary_key->>'id')::int), max((primary_key->>'id')::int), max(position),"
                         + " (SELECT position FROM annals.checkpoints WHERE consumer = '" + slot + "')"
                         + " FROM annals.changes")) {
                rs.next();
                assertThat(rs.getLong(1)).as("rows in annals.changes").isEqualTo(ROWS);
                assertThat(rs.getLong(2)).as("CREATE changes of t").isEqualTo(ROWS);
                assertThat(rs.getLong(3)).as("distinct positions").isEqualTo(ROWS);
                assertThat(rs.getLong(4)).as("distinct ids").isEqualTo(ROWS);
                assertThat(rs.getInt(5)).as("lowest id").isEqualTo(1);
                assertThat(rs.getInt(6)).as("highest id").isEqualTo(ROWS);
                assertThat(rs.getString(8)).as("checkpoint position").isEqualTo(rs.getString(7));
            }
            db.awaitSlotReleased(Duration.ofSeconds(60));
            long streamedTransactions = db.queryLong("SELECT coalesce(sum(stream_txns), 0) FROM pg_stat_replication_slots"
                    + " WHERE slot_name = '" + slot + "'");
            if (streamed) {
                assertThat(streamedTransactions).as("the server streamed the transaction").isPositive();
            } else {
                assertThat(streamedTransactions).as("the server sent the transaction whole").isZero();
            }
        }
    }

    /**
     * The same with wide rows: 60,000 rows of 8 KB (480 MB of values, more than the heap) in one transaction.
     * Batches and caches bounded by row count alone would not fit.
     */
    @Test
    void wideRowTransactionLargerThanTheHeapIsCapturedWithXmx256m() throws Exception {
        int rows = 60_000;
        String slot = "wide_tx";
        try (CrashTestDatabase db = CrashTestDatabase.create(slot, slot)) {
            TestPostgres.execute(db.url, "CREATE TABLE t (id int PRIMARY KEY, doc text NOT NULL)");
            db.prepareSlot(BATCH_SIZE);
            TestPostgres.execute(db.url, "INSERT INTO t SELECT g, repeat(md5(g::text), 250) FROM generate_series(1, " + rows + ") g");

            CaptureProcess.Exit exit = CaptureProcess.run(slot, List.of("-Xmx256m", "-XX:+ExitOnOutOfMemoryError"), db.url, slot,
                    BATCH_SIZE, "catch-up", Duration.ofMinutes(10));
            CaptureProcess.note(String.format("Wide rows: capturing %,d rows of 8 KB with -Xmx256m took %d ms (exit %d)%n%s",
                    rows, exit.elapsed().toMillis(), exit.code(), CaptureProcess.tail(exit.log(), 1)));
            assertThat(exit.code()).as("the -Xmx256m child must capture %,d rows of 8 KB and exit 0; %s", rows, exit.describe())
                    .isEqualTo(CrashingCapture.CAUGHT_UP);
            assertThat(db.queryLong("SELECT count(*) FROM annals.changes WHERE operation = 'CREATE'"
                    + " AND length(after->>'doc') = 8000")).as("complete CREATE changes").isEqualTo(rows);
            assertThat(db.queryLong("SELECT count(DISTINCT position) FROM annals.changes")).isEqualTo(rows);
        }
    }
}
