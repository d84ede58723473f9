/**
 * The running pipeline: the reader thread ({@link io.annals.capture.pipeline.StreamReader}) cuts
 * assembled changes into batches, a small bounded queue in {@link io.annals.capture.pipeline.Pipeline}
 * hands them to the writer thread ({@link io.annals.capture.pipeline.WriterLoop}), whose
 * {@link io.annals.capture.pipeline.BatchWriter} completes them (unchanged TOAST values and changed
 * columns from {@code LastImages}) and stores each batch with the checkpoint; the
 * {@link io.annals.capture.pipeline.Monitor} sends heartbeats and sync markers and watches the WAL
 * the slot retains; {@link io.annals.capture.pipeline.CaptureMetrics} are the meters.
 *
 * <p>A package of its own because the rules between the threads (the slot is confirmed only up
 * to what is stored; the first failure stops them all) are one concept. Not exported: an internal
 * of the worker, which only wires these together.
 *
 * <pre>{@code
 * Pipeline pipeline = new Pipeline();
 * Thread.ofPlatform().start(new WriterLoop(pipeline, batchWriter, checkpoint)::run);
 * Thread.ofPlatform().start(new StreamReader(options, pipeline, stream, protocol, checkpoint)::run);
 * }</pre>
 */
package io.annals.capture.pipeline;
