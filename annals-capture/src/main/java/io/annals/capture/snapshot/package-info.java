/**
 * The initial snapshot: every existing row of the captured tables recorded as a SNAPSHOT change,
 * read through the snapshot the replication slot exported when it was created, so that the
 * baseline and the stream neither overlap nor leave a gap ({@link io.annals.capture.snapshot.Snapshotter}).
 *
 * <p>A package of its own because it reads tables with SQL ({@code to_jsonb}), not the stream, and
 * its correctness rests on the slot's exported snapshot alone. Not exported: an internal of the worker.
 *
 * <pre>{@code
 * long rows = new Snapshotter(options, "app").run(connection, slot.getSnapshotName(), consistentPoint, writer);
 * }</pre>
 */
package io.annals.capture.snapshot;
