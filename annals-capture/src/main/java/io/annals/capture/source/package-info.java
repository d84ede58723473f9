/**
 * The source database, made ready to capture from: connections that say what to fix when they
 * fail ({@link io.annals.capture.source.Connections}), the checks and the set-up of publication,
 * replica identity, event triggers and slot ({@link io.annals.capture.source.SourceSetup}), and the
 * order of everything that happens once before streaming
 * ({@link io.annals.capture.source.CaptureStartup}).
 *
 * <p>A package of its own because its rules are about the source's configuration and about
 * crashes between start-up steps, not about the stream. Not exported: an internal of the worker.
 *
 * <pre>{@code
 * CaptureStartup.Started started = new CaptureStartup(options).run();
 * PGReplicationStream stream = started.stream();
 * }</pre>
 */
package io.annals.capture.source;
