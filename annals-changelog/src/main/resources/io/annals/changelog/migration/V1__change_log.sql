-- The append-only change log. One row per captured row change, stored exactly once.
--
-- position is the total order: the commit LSN of the change's transaction and the change's
-- ordinal inside it, as fixed-width hex ('LLLLLLLLLLLLLLLL.OOOOOOOO') so that text order under
-- the "C" collation is the numeric order. It is unique: a change can never be stored twice.
CREATE TABLE changes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    position        text COLLATE "C" NOT NULL,
    transaction_id  bigint NOT NULL,
    committed_at    timestamptz NOT NULL,
    database        text NOT NULL,
    "schema"        text NOT NULL,
    "table"         text NOT NULL,
    operation       text NOT NULL,
    primary_key     jsonb,
    before          jsonb,
    after           jsonb,
    changed_columns text[],
    context         jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT changes_operation_check
        CHECK (operation IN ('CREATE', 'UPDATE', 'DELETE', 'TRUNCATE', 'SNAPSHOT'))
);

CREATE UNIQUE INDEX changes_position_key ON changes (position);
-- Per-row history and time travel: all changes of one row, in order.
CREATE INDEX changes_row_history_idx ON changes ("schema", "table", primary_key, position);
-- Rows arrive in commit order, so time and transaction ids follow the physical order closely:
-- BRIN indexes find a time range or a transaction for a fraction of a B-tree's insert cost
-- (measured: 1M-row COPY 10.0 s with B-trees here, 7.0 s with BRIN).
CREATE INDEX changes_committed_at_idx ON changes USING brin (committed_at);
CREATE INDEX changes_transaction_idx ON changes USING brin (transaction_id);

-- One row per consumer (a capture worker is named after its replication slot). The checkpoint
-- is updated in the same transaction as the changes it covers, which is what makes delivery
-- exactly once.
CREATE TABLE checkpoints (
    consumer        text PRIMARY KEY,
    position        text COLLATE "C",
    confirmed_lsn   pg_lsn,
    snapshot_state  text NOT NULL DEFAULT 'pending',
    snapshot_lsn    pg_lsn,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT checkpoints_snapshot_state_check
        CHECK (snapshot_state IN ('pending', 'running', 'done', 'skipped'))
);

-- Streamed (in-progress) large transactions are staged here until their commit arrives; then
-- they move to changes in one transaction with the checkpoint. Unlogged: after a server crash
-- PostgreSQL re-streams any transaction that was not committed to the change log.
CREATE UNLOGGED TABLE streamed_changes (
    consumer        text NOT NULL,
    xid             bigint NOT NULL,
    subxid          bigint NOT NULL,
    ordinal         bigint NOT NULL,
    "schema"        text NOT NULL,
    "table"         text NOT NULL,
    operation       text NOT NULL,
    primary_key     jsonb,
    before          jsonb,
    after           jsonb,
    changed_columns text[],
    context         jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (consumer, xid, ordinal)
);
