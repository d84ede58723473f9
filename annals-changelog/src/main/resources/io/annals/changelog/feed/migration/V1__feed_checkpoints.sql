-- A change feed's checkpoint, in the database the feed writes its output to (its own history table,
-- annals.feed_schema_history, so that it can live beside anything else in schema annals). An
-- exactly-once feed updates its row in the same transaction as its output.
CREATE TABLE feed_checkpoints (
    consumer        text PRIMARY KEY,
    -- The feed reads the log in id order; every change with a lower id has been delivered.
    last_id         bigint NOT NULL DEFAULT 0,
    -- The position of the last change delivered, for people and for retention.
    position        text COLLATE "C",
    -- While a new feed first delivers a retention baseline (the rows alive at the cut-off of the
    -- change log's latest retention, which stand for the changes it dropped): which baseline, and
    -- the id of the last of its rows delivered. NULL once the baseline is delivered or when there is none.
    baseline_of     text,
    baseline_id     bigint,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
