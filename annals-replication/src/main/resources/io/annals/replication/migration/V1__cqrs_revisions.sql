-- The revision of every replicated row, kept by the CQRS master beside its change feed's checkpoint
-- (annals.feed_checkpoints), in the same transaction: a batch's revisions and its checkpoint commit
-- together or not at all. In schema annals so that capture never captures it.
CREATE TABLE annals.cqrs_revisions (
    cqrs_id  text    NOT NULL,
    pk       text    NOT NULL,   -- instance_pk as compact JSON text: 1, "a0ee...", {"a":1,"b":2}
    revision integer NOT NULL,   -- the last revision sent; a Django replica stores it as a 32-bit int
    deleted  boolean NOT NULL DEFAULT false,  -- the last change deleted the row (a TRUNCATE deletes the others)
    updated  timestamptz NOT NULL,            -- cqrs_updated of the last change: what a SYNC sends
    tracked  jsonb,                           -- the previous_data fields as last sent: the change log's UPDATE
                                              -- has no old image unless the table's REPLICA IDENTITY is FULL
    PRIMARY KEY (cqrs_id, pk)
);
