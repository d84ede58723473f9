package io.annals.projections;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.changelog.ChangeLog;
import io.annals.testkit.TestPostgres;
import org.postgresql.ds.PGSimpleDataSource;

import java.time.Duration;
import java.util.List;

/**
 * A fresh database on the shared embedded PostgreSQL, its schema applied, with a capture worker
 * writing its change log into it: what the application writes is what projections read.
 */
final class Captured implements AutoCloseable {

    final String url;
    final PGSimpleDataSource dataSource;
    final ChangeLog changeLog;
    private CaptureWorker worker;

    Captured(String prefix, String... schema) {
        this.url = TestPostgres.newDatabase(prefix);
        TestPostgres.execute(url, schema);
        this.dataSource = dataSource(url);
        this.worker = CaptureWorker.start(options());
        this.changeLog = ChangeLog.at(dataSource);
        sync();
    }

    static PGSimpleDataSource dataSource(String url) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(url);
        return ds;
    }

    private CaptureOptions options() {
        return CaptureOptions.builder(url).heartbeatInterval(Duration.ofMillis(200)).build();
    }

    /** Waits until every change committed so far is in the change log. */
    void sync() {
        worker.awaitCaughtUp(Duration.ofSeconds(60));
    }

    void pause() {
        worker.close();
    }

    void resume() {
        worker = CaptureWorker.start(options());
    }

    void execute(String... statements) {
        TestPostgres.execute(url, statements);
    }

    void transaction(String... statements) {
        TestPostgres.transaction(url, statements);
    }

    List<String> rows(String sql) {
        return TestPostgres.rows(url, sql);
    }

    @Override
    public void close() {
        worker.close();
        drop(url);
    }

    static void drop(String url) {
        TestPostgres.dropDatabase(url);
    }
}
