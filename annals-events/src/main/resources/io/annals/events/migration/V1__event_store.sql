-- The event store. Runs in schema annals next to the change log, with its own Flyway history
-- table (annals.events_schema_history), so the two modules migrate independently.

-- One row per stream: its category (the id up to the first '-'), its version (the number of
-- events ever appended) and its life cycle. A deleted stream keeps its row as a tombstone so
-- that its id is never reused by accident.
CREATE TABLE event_streams (
    stream_id    text PRIMARY KEY,
    stream_type  text NOT NULL,
    version      bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    archived_at  timestamptz,
    deleted_at   timestamptz,
    CONSTRAINT event_streams_id_length CHECK (char_length(stream_id) BETWEEN 1 AND 200)
);

-- The events. position is unique and increasing in allocation order, but NOT in commit order,
-- and rolled-back appends leave gaps: readers never rely on it alone. transaction_id is the
-- appending transaction; the global order is (transaction_id, position), read only below the
-- xmin of the reader's snapshot (see EventStore and docs/events.md).
CREATE TABLE events (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
    stream_id       text NOT NULL,
    stream_type     text NOT NULL,
    stream_version  bigint NOT NULL,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    data            jsonb NOT NULL,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    -- Optimistic concurrency's last line of defence: two events can never claim one version.
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_type_length CHECK (char_length(event_type) BETWEEN 1 AND 200)
);

-- The global order that subscriptions and readAll walk.
CREATE INDEX events_global_order_idx ON events (transaction_id, position);

-- Aggregate snapshots. schema_version names the state's shape (the user's number plus a
-- fingerprint of the state class): a snapshot of another shape is ignored, never mis-read.
CREATE TABLE event_snapshots (
    stream_id       text NOT NULL,
    schema_version  text NOT NULL,
    stream_version  bigint NOT NULL,
    as_of           timestamptz NOT NULL,
    state           jsonb NOT NULL,
    taken_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream_id, schema_version, stream_version)
);

-- Durable, named subscription checkpoints: the last (transaction_id, position) handled.
CREATE TABLE event_subscriptions (
    name            text PRIMARY KEY,
    transaction_id  xid8 NOT NULL,
    position        bigint NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One append, of one or many events, in one statement (one round trip). Error codes:
--   AN001 wrong expected version (DETAIL: the actual version, 0 when the stream does not exist)
--   AN002 an event id already exists with other content or elsewhere (DETAIL: the id)
--   AN003 the stream is archived, AN004 the stream is deleted
--   AN005 the stream was last written by a transaction newer than this one (retry the transaction)
-- p_expected: -1 any, -2 no stream, -3 stream exists, n >= 0 exactly n.
-- p_notify: NOTIFY in this transaction. Only for appends inside a caller's transaction: NOTIFY
-- takes a database-wide lock from pre-commit to the end of the commit, which would serialise the
-- WAL flushes of concurrent appenders (no group commit); the store notifies its own appends from
-- a connection of its own instead, after they commit.
CREATE FUNCTION annals.append_events(p_stream text, p_expected bigint, p_ids uuid[], p_types text[],
                              p_data jsonb[], p_metadata jsonb[], p_notify boolean)
    RETURNS TABLE (was_duplicate boolean, new_version bigint, first_pos bigint, last_pos bigint, txid bigint)
    LANGUAGE plpgsql AS $$
DECLARE
    n            int := cardinality(p_ids);
    v_type       text := split_part(p_stream, '-', 1);
    v_current    bigint;
    v_archived   timestamptz;
    v_deleted    timestamptz;
    v_found      int;
    v_same       boolean;
    v_here       boolean;
    v_runs       int;
    v_version    bigint;
    v_first      bigint;
    v_last       bigint;
    v_last_xid   xid8;
    v_now        timestamptz;
BEGIN
    -- Serialise appends per stream BEFORE this transaction is given an xid (an advisory lock
    -- needs none), so that within a stream transaction ids grow with versions.
    PERFORM pg_advisory_xact_lock(1095648337, hashtext(p_stream));
    -- Taken under the lock, so recorded_at grows with the version within a stream (time travel relies on it).
    v_now := clock_timestamp();

    -- Idempotency: a retried append whose ids are all stored with the same content is a no-op.
    -- A retry always resends its first id, so only then are all ids compared; any other reuse of
    -- a stored id is caught by events_event_id_key and reported as the same conflict.
    IF EXISTS (SELECT 1 FROM annals.events e WHERE e.event_id = p_ids[1]) THEN
        SELECT count(*), bool_and(e.event_type = u.t AND e.data = u.d), bool_and(e.stream_id = p_stream),
               count(DISTINCT e.stream_version - u.i), max(e.stream_version), min(e.position), max(e.position)
          INTO v_found, v_same, v_here, v_runs, v_version, v_first, v_last
          FROM unnest(p_ids, p_types, p_data) WITH ORDINALITY AS u(id, t, d, i)
          JOIN annals.events e ON e.event_id = u.id;
        IF v_found > 0 THEN
            IF v_found = n AND v_same AND v_here AND v_runs = 1 THEN
                RETURN QUERY SELECT true, v_version, v_first, v_last, 0::bigint;
                RETURN;
            END IF;
            RAISE EXCEPTION USING ERRCODE = 'AN002',
                MESSAGE = format('%s of the %s event ids appended to stream %s are already stored, but not as this '
                                 'same append (other content, another stream or other ids alongside)', v_found, n, p_stream),
                DETAIL = (SELECT u.id::text FROM unnest(p_ids) AS u(id) JOIN annals.events e ON e.event_id = u.id LIMIT 1);
        END IF;
    END IF;

    SELECT s.version, s.archived_at, s.deleted_at INTO v_current, v_archived, v_deleted
      FROM annals.event_streams s WHERE s.stream_id = p_stream;
    IF v_deleted IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'AN004', MESSAGE = format('stream %s was deleted', p_stream), DETAIL = v_current::text;
    END IF;
    IF v_archived IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'AN003', MESSAGE = format('stream %s is archived', p_stream), DETAIL = v_current::text;
    END IF;
    IF (p_expected = -2 AND v_current IS NOT NULL)
       OR (p_expected = -3 AND v_current IS NULL)
       OR (p_expected >= 0 AND coalesce(v_current, 0) <> p_expected) THEN
        RAISE EXCEPTION USING ERRCODE = 'AN001',
            MESSAGE = format('stream %s is at version %s', p_stream, coalesce(v_current, 0)),
            DETAIL = coalesce(v_current, 0)::text;
    END IF;

    IF v_current IS NULL THEN
        v_current := 0;
        INSERT INTO annals.event_streams (stream_id, stream_type, version) VALUES (p_stream, v_type, n);
    ELSE
        -- Only an outer transaction that took its xid before the previous append committed can
        -- trip this; refusing keeps the per-stream order equal to the global order.
        SELECT e.transaction_id INTO v_last_xid FROM annals.events e
         WHERE e.stream_id = p_stream AND e.stream_version = v_current;
        IF v_last_xid > pg_current_xact_id() THEN
            RAISE EXCEPTION USING ERRCODE = 'AN005',
                MESSAGE = format('stream %s was last appended to by a transaction newer than this one', p_stream);
        END IF;
        UPDATE annals.event_streams SET version = v_current + n WHERE event_streams.stream_id = p_stream;
    END IF;

    WITH inserted AS (
        INSERT INTO annals.events (stream_id, stream_type, stream_version, event_id, event_type, data, metadata, recorded_at)
        SELECT p_stream, v_type, v_current + u.i, u.id, u.t, u.d, coalesce(u.m, '{}'::jsonb), v_now
          FROM unnest(p_ids, p_types, p_data, p_metadata) WITH ORDINALITY AS u(id, t, d, m, i)
         ORDER BY u.i
        RETURNING events.position
    )
    SELECT min(position), max(position) INTO v_first, v_last FROM inserted;

    IF p_notify THEN
        -- Delivered at commit; the payload tells subscribers which transaction to wait for.
        PERFORM pg_notify('annals_events', pg_current_xact_id()::text);
    END IF;
    RETURN QUERY SELECT false, v_current + n, v_first, v_last, pg_current_xact_id()::text::bigint;
END
$$;
