package io.annals.capture;

import java.util.List;

/**
 * Work handed from the stream reader to the writer: changes to store together, and the end LSN of
 * the last source transaction that is complete once they are (0 when the batch ends mid-transaction).
 * Changes of streamed transactions are staged rather than stored.
 */
record Batch(List<PendingChange> changes, long confirmedLsn) {
}

/** What a message ended, if anything: the reader reacts to these. */
sealed interface Boundary permits TransactionEnd, StreamedCommit, StreamedAbort {
}

/** A transaction committed; once stored, the slot may be confirmed up to {@code endLsn}. */
record TransactionEnd(long endLsn) implements Boundary {
}

/** A streamed transaction committed: move its staged changes into the change log. */
record StreamedCommit(long xid, long commitLsn, java.time.Instant commitTime, long endLsn) implements Boundary {
}

/** A streamed transaction, or one subtransaction of it ({@code subXid != xid}), rolled back. */
record StreamedAbort(long xid, long subXid) implements Boundary {
}
