package io.annals.capture.pipeline;

import io.annals.capture.assembly.PendingChange;
import java.util.List;

/**
 * Work handed from the stream reader to the writer: changes to store together, and the end LSN of
 * the last source transaction that is complete once they are (0 when the batch ends mid-transaction).
 * Changes of streamed transactions are staged rather than stored.
 *
 * <p>The timings say where a batch's latency goes before the writer takes it: {@code streamNanos}
 * is the longest a transaction of the batch took from its source commit to its arrival in the reader
 * (the server's, the stream's and the scheduler's share), {@code receivedNanos} and {@code handedOffNanos}
 * ({@link System#nanoTime()}) are when its first change arrived and when the reader let go of it.
 */
record Batch(List<PendingChange> changes, long confirmedLsn, long streamNanos, long receivedNanos, long handedOffNanos) {
}
