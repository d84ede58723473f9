package io.annals.changelog;

/**
 * A change of a large transaction that PostgreSQL streams before it commits (pgoutput protocol
 * 2+). Its commit LSN, and so its position, is unknown until the commit arrives; until then it
 * waits in {@code annals.streamed_changes}.
 *
 * <pre>{@code
 * writer.stage(List.of(new StagedChange(subXid, rowWithStagingOrdinal)));
 * writer.commitStaged(xid, commitLsn, commitTime, endLsn, null);
 * }</pre>
 *
 * @param subXid the (sub)transaction that made the change, so that a rolled-back subtransaction's
 *               changes can be discarded; equals the row's transaction id for top-level changes
 * @param row    the change; {@code row.position().ordinal()} is its order of arrival within the
 *               transaction, and {@code row.position().lsn()} is ignored
 */
public record StagedChange(long subXid, ChangeRow row) {
}
