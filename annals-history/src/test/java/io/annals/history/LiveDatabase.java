package io.annals.history;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.testkit.TestPostgres;
import org.postgresql.ds.PGSimpleDataSource;

import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * A fresh database on the shared embedded PostgreSQL with a capture worker writing its change log
 * into it, for tests that need real captured history: what the application writes is what the
 * trail reads. Closing stops the worker and drops the slot and the database.
 */
public final class LiveDatabase implements AutoCloseable {

    public final String url;
    public final AuditTrail trail;
    public final PGSimpleDataSource dataSource;
    private final UnaryOperator<CaptureOptions.Builder> capture;
    private CaptureWorker worker;

    private LiveDatabase(String url, UnaryOperator<CaptureOptions.Builder> capture, String... schema) {
        this.url = url;
        this.capture = capture;
        TestPostgres.execute(url, schema);
        this.dataSource = new PGSimpleDataSource();
        dataSource.setURL(url);
        this.worker = CaptureWorker.start(options().build());
        sync();
        this.trail = AuditTrail.of(dataSource);
    }

    /** A database with {@code schema} applied before capture starts (its rows are snapshotted). */
    public static LiveDatabase create(String prefix, String... schema) {
        return new LiveDatabase(TestPostgres.newDatabase(prefix), UnaryOperator.identity(), schema);
    }

    /** The same, with capture set up by {@code capture} as well (masked or omitted columns, say). */
    public static LiveDatabase create(String prefix, UnaryOperator<CaptureOptions.Builder> capture, String... schema) {
        return new LiveDatabase(TestPostgres.newDatabase(prefix), capture, schema);
    }

    private CaptureOptions.Builder options() {
        return capture.apply(CaptureOptions.builder(url).heartbeatInterval(Duration.ofMillis(200)));
    }

    /** Waits until every change committed so far is in the change log. */
    public void sync() {
        worker.awaitCaughtUp(Duration.ofSeconds(60));
    }

    /** Stops capture (changes made meanwhile are stored when {@link #resume()} starts it again). */
    public void pause() {
        worker.close();
    }

    public void resume() {
        worker = CaptureWorker.start(options().build());
    }

    public void execute(String... statements) {
        TestPostgres.execute(url, statements);
    }

    /** Runs the statements in one transaction and returns its id as the change log records it. */
    public long transaction(String... statements) {
        return TestPostgres.transaction(url, statements).xid();
    }

    /** Each row of the query as one text, columns separated by " | ": compare tables with {@code SELECT t::text FROM t ORDER BY ...}. */
    public List<String> rows(String sql) {
        return TestPostgres.rows(url, sql);
    }

    @Override
    public void close() {
        worker.close();
        TestPostgres.dropDatabase(url);
    }
}
