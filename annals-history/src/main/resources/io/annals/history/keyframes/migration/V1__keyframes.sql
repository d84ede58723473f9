-- Keyframes: compact copies of a table's live rows at a position of the change log, so that a table
-- as of a cut is read as the nearest keyframe at or before the cut plus the changes after it.
-- Owned by annals-history (package io.annals.history.keyframes); this history is
-- annals.keyframes_schema_history, apart from the change log's own.
--
-- A keyframe at position P holds every row alive right after the change at P, with AsOf's
-- semantics. Its header and its rows commit in one transaction (with the keyframer's feed
-- checkpoint when the keyframer wrote it), so a keyframe is whole or absent.
CREATE TABLE keyframes (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "schema"      text NOT NULL,
    "table"       text NOT NULL,
    position      text COLLATE "C" NOT NULL,
    committed_at  timestamptz,
    row_count     bigint NOT NULL,
    origin        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT keyframes_origin_check CHECK (origin IN ('keyframer', 'manual', 'retention')),
    CONSTRAINT keyframes_table_position_key UNIQUE ("schema", "table", position)
);

-- The rows, in key order within a keyframe (the order an as-of table is read in).
CREATE TABLE keyframe_rows (
    keyframe_id   bigint NOT NULL REFERENCES keyframes (id) ON DELETE CASCADE,
    primary_key   jsonb NOT NULL,
    after         jsonb,
    withheld      text[],
    PRIMARY KEY (keyframe_id, primary_key)
);

-- The keyframer's count of each table's changes since its last keyframe (and of the creates and
-- deletes among them, which with the last keyframe's rows estimate the table's rows), kept with its
-- feed checkpoint so that a restart neither forgets nor double-counts them.
CREATE TABLE keyframe_progress (
    "schema"        text NOT NULL,
    "table"         text NOT NULL,
    pending_changes bigint NOT NULL DEFAULT 0,
    pending_creates bigint NOT NULL DEFAULT 0,
    pending_deletes bigint NOT NULL DEFAULT 0,
    last_rows       bigint NOT NULL DEFAULT 0,
    last_built_at   timestamptz,
    skipped_because text,
    PRIMARY KEY ("schema", "table")
);
