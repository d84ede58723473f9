-- The projections' own state, in the database their read tables live in (their own history
-- table, annals.projections_schema_history, beside anything else in schema annals).

-- Changes a projection's mapping failed on: under the halt policy the projection waits at the
-- first one; under skip it goes on and the change waits here for a retry (which re-derives its
-- canonical key from the source's current state) or a discard.
CREATE TABLE projection_quarantine (
    projection      text NOT NULL,
    position        text COLLATE "C" NOT NULL,
    canonical_type  text NOT NULL,
    canonical_pk    jsonb NOT NULL,
    change          jsonb NOT NULL,
    error           text NOT NULL,
    policy          text NOT NULL CHECK (policy IN ('halt', 'skip')),
    discarded       boolean NOT NULL DEFAULT false,
    quarantined_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, position)
);

-- Writes to a read table that its projection did not make: "never modify denormalized rows by
-- hand", enforced. Found when the read table is itself captured; verify finds the rest.
CREATE TABLE projection_manual_edits (
    id              bigserial PRIMARY KEY,
    projection      text NOT NULL,
    read_table      text NOT NULL,
    position        text COLLATE "C" NOT NULL,
    operation       text NOT NULL,
    canonical_type  text,
    canonical_pk    jsonb,
    context         jsonb NOT NULL,
    detected_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (projection, position)
);
