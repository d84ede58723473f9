package io.annals.capture.assembly;

/** What a stream message ended, if anything: the reader reacts to these. */
public sealed interface Boundary {

    /** A transaction committed; once stored, the slot may be confirmed up to {@code endLsn}. */
    record TransactionEnd(long endLsn) implements Boundary {
    }

    /** A streamed transaction committed: move its staged changes into the change log. */
    record StreamedCommit(long xid, long commitLsn, java.time.Instant commitTime, long endLsn) implements Boundary {
    }

    /** A streamed transaction, or one subtransaction of it ({@code subXid != xid}), rolled back. */
    record StreamedAbort(long xid, long subXid) implements Boundary {
    }
}
