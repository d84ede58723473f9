package io.annals.capture;

import io.annals.capture.pipeline.BatchWriter;
import io.annals.capture.pipeline.CaptureMetrics;
import io.annals.capture.pipeline.Monitor;
import io.annals.capture.pipeline.Pipeline;
import io.annals.capture.pipeline.StreamReader;
import io.annals.capture.pipeline.WriterLoop;
import io.annals.capture.source.CaptureStartup;
import io.annals.capture.source.Connections;
import io.annals.capture.source.SourceSetup;
import io.annals.changelog.ChangeLogWriter;
import io.annals.changelog.Supervisor;
import org.postgresql.replication.PGReplicationStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Streams every row change of a PostgreSQL database from its WAL into the change log.
 *
 * <p>Two threads form the pipeline: a reader decodes the slot's pgoutput stream into changes, and
 * a writer stores them in batches, each batch with the checkpoint in one transaction. The slot
 * is confirmed only up to the end of the last transaction stored whole, so a crash at any point
 * replays from there, and changes already stored are recognised by their position and skipped.
 * A third thread sends heartbeats on an idle source and watches the WAL the slot retains.
 * Each part lives in its own class ({@code CaptureStartup}, {@code StreamReader}, {@code WriterLoop},
 * {@code Monitor}, sharing a {@code Pipeline}) so that its rules can be read alone; this class only
 * wires them together and is all that callers see.
 *
 * <pre>{@code
 * try (CaptureWorker worker = CaptureWorker.start(CaptureOptions.builder(url).build())) {
 *     worker.awaitCaughtUp(Duration.ofSeconds(30));
 * }
 * }</pre>
 */
public final class CaptureWorker implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CaptureWorker.class);

    private final CaptureOptions options;
    private final CaptureMetrics metrics;
    private final Pipeline pipeline = new Pipeline();
    private final Monitor monitor;

    private Connection replication;
    private PGReplicationStream stream;
    private ChangeLogWriter writer;
    private StreamReader reader;
    private Thread readerThread;

    private CaptureWorker(CaptureOptions options) {
        this.options = options;
        this.metrics = new CaptureMetrics(options.meterRegistry(), options.slotName());
        this.monitor = new Monitor(options, metrics, pipeline);
    }

    /**
     * Checks the source, prepares the change log, publication and slot, takes the initial
     * snapshot on first start, then starts streaming in the background.
     *
     * @throws CaptureException when capture cannot start; the message says how to fix it
     */
    public static CaptureWorker start(CaptureOptions options) {
        if (options.slotName() == null) {
            options = options.toBuilder().slot(CaptureOptions.defaultSlotName(currentDatabase(options.sourceUrl()))).build();
        }
        CaptureWorker worker = new CaptureWorker(options);
        try {
            worker.open();
        } catch (SQLException e) {
            worker.closeResources();
            throw Connections.explain(e, options.sourceUrl(), "source");
        } catch (RuntimeException e) {
            worker.closeResources();
            throw e;
        }
        return worker;
    }

    static String currentDatabase(String url) {
        try (Connection c = Connections.open(url, "source"); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_database()")) {
            rs.next();
            return rs.getString(1);
        } catch (SQLException e) {
            throw Connections.explain(e, url, "source");
        }
    }

    /** The replication slot this worker streams from (also its checkpoint's name). */
    public String slotName() {
        return options.slotName();
    }

    private void open() throws SQLException {
        CaptureStartup.Started started = new CaptureStartup(options).run();
        replication = started.replication();
        stream = started.stream();
        writer = started.writer();
        SourceSetup.SourceInfo source = started.source();
        reader = new StreamReader(options, pipeline, stream, source.protocolVersion(), started.checkpoint());
        pipeline.initDurableLsn(started.checkpoint() == null ? 0 : started.checkpoint().confirmedLsn());
        WriterLoop writerLoop = new WriterLoop(pipeline,
                new BatchWriter(writer, source.database(), metrics, options.crashPoint()), started.checkpoint());
        Thread.ofPlatform().name("annals-writer-" + options.slotName()).start(writerLoop::run);
        readerThread = Thread.ofPlatform().name("annals-reader-" + options.slotName()).start(reader::run);
        Thread.ofPlatform().daemon().name("annals-monitor-" + options.slotName()).start(monitor::run);
        log.info("Capturing database {} (PostgreSQL {}, pgoutput protocol {}) into {} with slot {}",
                source.database(), source.major(), source.protocolVersion(), Connections.redact(options.targetUrl()),
                options.slotName());
    }

    /**
     * Waits until every transaction committed on the source before this call is in the change log.
     * It sends a marker through the slot's own stream, so "caught up" means exactly that.
     *
     * @throws CaptureException if the worker failed, or the timeout passed
     */
    public void awaitCaughtUp(Duration timeout) {
        monitor.awaitCaughtUp(timeout);
    }

    /** The failure that stopped the worker, if one did. */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(pipeline.failure());
    }

    /** True until the worker is stopped or fails. */
    public boolean isRunning() {
        return pipeline.running() && pipeline.failure() == null;
    }

    /** Blocks until the worker stops (by {@link #close()} or a failure). */
    public void await() throws InterruptedException {
        pipeline.awaitStopped();
    }

    /** The end LSN of the last source transaction durably stored. */
    public long durableLsn() {
        return pipeline.durableLsn();
    }

    /**
     * Stops streaming: changes already received are stored, the slot is confirmed up to them, and
     * the connections close. The slot itself stays, so a later start resumes where this one ended.
     */
    @Override
    public void close() {
        pipeline.stop();
        try {
            if (readerThread != null && !pipeline.awaitStopped(60, TimeUnit.SECONDS)) {
                log.warn("Capture threads did not stop within 60 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            if (stream != null && pipeline.failure() == null && !stream.isClosed()) {
                reader.confirm();
            }
        } catch (SQLException e) {
            log.debug("Final status update failed: {}", e.getMessage());
        }
        closeResources();
    }

    private void closeResources() {
        Connections.closeResources(stream, replication, writer);
    }

    /**
     * True when {@code failure} may pass by itself, so that starting again (from the checkpoint,
     * losing nothing) is the right response: a lost connection, a server restarting or shutting
     * down, a server out of connections. Configuration and data errors are not retryable.
     */
    public static boolean isRetryable(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof CaptureException ce && ce.retryable()) return true;
        }
        return Supervisor.isRetryable(failure);
    }

    /**
     * Starts capture under a {@link Supervisor}: the worker is started again, from its checkpoint
     * (losing and duplicating nothing), after any retryable failure (see {@link #isRetryable}),
     * with a back-off from 1 s doubling to 30 s; any other failure stops it. This is what
     * {@code annals run} runs.
     *
     * <pre>{@code
     * try (Supervisor<CaptureWorker> capture = CaptureWorker.supervised(options)) {
     *     capture.await();
     * }
     * }</pre>
     */
    public static Supervisor<CaptureWorker> supervised(CaptureOptions options) {
        return supervised(options, null, (failure, delay) -> { });
    }

    /**
     * {@link #supervised(CaptureOptions)}, supervising {@code first} (a worker the caller started,
     * or null to start one) and calling {@code onRestart} before each restart.
     */
    public static Supervisor<CaptureWorker> supervised(CaptureOptions options, CaptureWorker first,
                                                       Supervisor.RestartListener onRestart) {
        Supervisor.Builder<CaptureWorker> b = Supervisor.of("capture " + (options.slotName() == null ? "" : options.slotName()), () -> start(options))
                .awaitingEnd(worker -> {
                    try {
                        worker.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return worker.failure();
                })
                .retryingWhen(CaptureWorker::isRetryable)
                .onRestart(onRestart);
        return (first == null ? b : b.firstWorker(first)).start();
    }
}
