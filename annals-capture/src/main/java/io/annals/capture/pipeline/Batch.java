package io.annals.capture.pipeline;

import io.annals.capture.assembly.PendingChange;
import java.util.List;

/**
 * Work handed from the stream reader to the writer: changes to store together, and the end LSN of
 * the last source transaction that is complete once they are (0 when the batch ends mid-transaction).
 * Changes of streamed transactions are staged rather than stored.
 */
record Batch(List<PendingChange> changes, long confirmedLsn) {
}
