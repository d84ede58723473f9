-- The change feeds that read this change log, and how far each has got: for `annals status`, for
-- the gauges, and so that retention never drops changes a feed has not read yet. A feed's own
-- checkpoint lives with its output (annals.feed_checkpoints, in the database it writes to, which
-- may be another one); this registry follows it after each commit, so it may lag behind it but never
-- runs ahead of it, which is the safe side for retention.
CREATE TABLE feed_consumers (
    consumer        text PRIMARY KEY,
    last_id         bigint NOT NULL DEFAULT 0,
    position        text COLLATE "C",
    registered_at   timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    last_error_at   timestamptz
);
