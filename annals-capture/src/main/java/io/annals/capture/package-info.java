/**
 * The capture worker: streams every row change of a source database from its WAL, through a
 * logical replication slot and the {@code pgoutput} plugin, into the change log, exactly once.
 *
 * <p>It is a package (and a module) of its own because only the process that captures needs
 * replication connections, slots and publications: applications that read the log, feeds and
 * the event store never load it. It writes the log only through {@code io.annals.changelog}.
 * Start at {@link io.annals.capture.CaptureWorker} and {@link io.annals.capture.CaptureOptions};
 * this package holds only what callers see (the worker, its options and filters, its status and
 * errors). How it works lives in packages the module does not export: {@code source} (connections,
 * checks, publication, slot, start-up), {@code snapshot} (the initial snapshot), {@code assembly}
 * (pgoutput messages into changes), {@code pipeline} (the reader, writer and monitor threads),
 * {@code pgoutput} and {@code value}.
 *
 * <pre>{@code
 * try (CaptureWorker worker = CaptureWorker.start(CaptureOptions.builder(url).build())) {
 *     worker.awaitCaughtUp(Duration.ofSeconds(30));
 * }
 * }</pre>
 */
package io.annals.capture;
