package io.annals.capture.pgoutput;

import java.util.List;

/**
 * One message of PostgreSQL's {@code pgoutput} logical replication protocol, versions 1 to 4.
 * See "Logical Replication Message Formats" in the PostgreSQL manual.
 *
 * <p>Fields named {@code xid} on data messages are set only inside a streamed block (protocol 2+);
 * elsewhere they are 0.
 *
 * <pre>{@code
 * switch (decoder.decode(buffer)) {
 *     case PgOutputMessage.Begin b -> ...
 *     case PgOutputMessage.Insert i -> ...
 *     default -> { }
 * }
 * }</pre>
 */
public sealed interface PgOutputMessage {

    /** Start of a transaction; {@code finalLsn} is the LSN of its commit record. */
    record Begin(long finalLsn, long commitTimeMicros, long xid) implements PgOutputMessage { }

    /** End of a transaction; the slot may be confirmed up to {@code endLsn} once it is stored. */
    record Commit(int flags, long commitLsn, long endLsn, long commitTimeMicros) implements PgOutputMessage { }

    /** The transaction came from another node through replication origin {@code name}. */
    record Origin(long commitLsn, String name) implements PgOutputMessage { }

    /** The shape of a table, sent before its first change and after it changes. */
    record Relation(long xid, int relationId, String schema, String table, char replicaIdentity,
                    List<Column> columns) implements PgOutputMessage { }

    /** A column of a {@link Relation}. */
    record Column(boolean key, String name, int typeOid, int typeModifier) { }

    /** A user-defined type used by a relation. */
    record Type(long xid, int typeOid, String schema, String name) implements PgOutputMessage { }

    record Insert(long xid, int relationId, Tuple newTuple) implements PgOutputMessage { }

    /**
     * An UPDATE. {@code oldKind} is {@code 'K'} when only the replica identity key is sent (it
     * changed), {@code 'O'} when the whole old row is (REPLICA IDENTITY FULL), or 0 when nothing is.
     */
    record Update(long xid, int relationId, char oldKind, Tuple oldTuple, Tuple newTuple) implements PgOutputMessage { }

    record Delete(long xid, int relationId, char oldKind, Tuple oldTuple) implements PgOutputMessage { }

    /** TRUNCATE of one or more relations; options bit 1 is CASCADE, bit 2 RESTART IDENTITY. */
    record Truncate(long xid, int options, int[] relationIds) implements PgOutputMessage { }

    /** A {@code pg_logical_emit_message} message. */
    record Message(long xid, boolean transactional, long lsn, String prefix, byte[] content) implements PgOutputMessage { }

    /** Start of a block of a streamed, still-running transaction (protocol 2+). */
    record StreamStart(long xid, boolean firstSegment) implements PgOutputMessage { }

    record StreamStop() implements PgOutputMessage { }

    record StreamCommit(long xid, int flags, long commitLsn, long endLsn, long commitTimeMicros) implements PgOutputMessage { }

    /** A streamed transaction, or one of its subtransactions when {@code subXid != xid}, rolled back. */
    record StreamAbort(long xid, long subXid) implements PgOutputMessage { }

    /** Two-phase commit messages (protocol 3+). Annals does not enable two-phase decoding. */
    record TwoPhase(char kind) implements PgOutputMessage { }
}
