-- The change log becomes range-partitioned by commit time, so that retention can drop whole
-- partitions (a cheap catalog operation) instead of deleting rows (slow, and bloat for VACUUM).
-- The rows are copied over in id order: ids, positions and everything else stay as they were.

-- How wide each partition is. One row; change it with annals.set_partition_interval(...) or
-- ChangeLog.partitionInterval(...). A change applies to partitions created afterwards only:
-- existing ones keep their bounds, and new ones fill the gaps between them.
CREATE TABLE partitioning (
    singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT partitioning_singleton_check CHECK (singleton),
    unit      text NOT NULL DEFAULT 'month'
        CONSTRAINT partitioning_unit_check CHECK (unit IN ('day', 'week', 'month', 'quarter', 'year'))
);
INSERT INTO partitioning DEFAULT VALUES;

CREATE FUNCTION set_partition_interval(new_unit text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF new_unit IS NULL OR lower(new_unit) NOT IN ('day', 'week', 'month', 'quarter', 'year') THEN
        RAISE EXCEPTION 'Unknown partition interval ''%'' for annals.changes', new_unit
            USING HINT = 'Use one of day, week, month, quarter, year.', ERRCODE = '22023';
    END IF;
    UPDATE annals.partitioning SET unit = lower(new_unit);
END
$$;

ALTER TABLE changes RENAME TO changes_v1;
ALTER INDEX changes_pkey RENAME TO changes_v1_pkey;
ALTER INDEX changes_position_key RENAME TO changes_v1_position_key;
ALTER INDEX changes_row_history_idx RENAME TO changes_v1_row_history_idx;
ALTER INDEX changes_committed_at_idx RENAME TO changes_v1_committed_at_idx;
ALTER INDEX changes_transaction_idx RENAME TO changes_v1_transaction_idx;
ALTER SEQUENCE changes_id_seq RENAME TO changes_v1_id_seq;

-- A plain sequence, not an identity column: PostgreSQL accepts identity columns on partitioned
-- tables only from version 17 on, and the change log supports 14 and later. It continues the old
-- identity (set below), so ids keep counting where they were.
CREATE SEQUENCE changes_id_seq AS bigint;

CREATE TABLE changes (
    id              bigint NOT NULL DEFAULT nextval('annals.changes_id_seq'),
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
) PARTITION BY RANGE (committed_at);
-- No DEFAULT partition, deliberately: a row that lands in one blocks creating the partition for
-- its range later, and retention could never drop it by age. Writers create partitions ahead of
-- their rows (ChangeLogWriter); a row with no partition fails loudly ("no partition of relation
-- changes found for row") and is never dropped silently.
ALTER SEQUENCE changes_id_seq OWNED BY changes.id;

-- The partitions of annals.changes and their bounds, read from the catalog (so it can never
-- disagree with it). A partition's range is [from_time, to_time).
CREATE VIEW change_partitions AS
SELECT c.relname::text AS name, m[1]::timestamptz AS from_time, m[2]::timestamptz AS to_time
FROM pg_catalog.pg_inherits i
JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
CROSS JOIN LATERAL regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                                'FROM \(''([^'']*)''\) TO \(''([^'']*)''\)') m
WHERE i.inhparent = 'annals.changes'::regclass;

-- Makes sure every instant in [from_ts, to_ts] has a partition, creating what is missing, and
-- returns how many it created. Idempotent, and safe when several sessions race: they queue on
-- one advisory lock (without it, two CREATE TABLEs of the same name would race on the catalog's
-- unique indexes), and each re-reads the catalog under it.
--
-- A partition is created empty and then ATTACHed, which takes only a SHARE UPDATE EXCLUSIVE
-- lock on annals.changes: writers and readers go on meanwhile. (CREATE TABLE ... PARTITION OF
-- would take ACCESS EXCLUSIVE and queue every reader behind it.)
--
-- Bounds are aligned in UTC on the configured unit. Where partitions of another width exist
-- (the unit was changed), only the gaps between them are filled, so partitions never overlap.
CREATE FUNCTION create_change_partitions(from_ts timestamptz, to_ts timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    unit_name text;
    step      interval;
    slot      timestamptz;
    slot_end  timestamptz;
    lo        timestamptz;
    p         record;
    created   integer := 0;
BEGIN
    IF from_ts IS NULL OR to_ts IS NULL OR to_ts < from_ts
            OR from_ts IN ('infinity', '-infinity') OR to_ts IN ('infinity', '-infinity') THEN
        RAISE EXCEPTION 'Cannot create partitions of annals.changes for [%, %]: need two finite instants, the first not after the second',
            from_ts, to_ts USING ERRCODE = '22023';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('annals.changes partitions', 0));
    SELECT s.unit INTO unit_name FROM annals.partitioning s;
    step := CASE unit_name WHEN 'day' THEN interval '1 day' WHEN 'week' THEN interval '7 days'
                           WHEN 'month' THEN interval '1 month' WHEN 'quarter' THEN interval '3 months'
                           ELSE interval '1 year' END;
    slot := date_trunc(unit_name, from_ts, 'UTC');
    WHILE slot <= to_ts LOOP
        slot_end := ((slot AT TIME ZONE 'UTC') + step) AT TIME ZONE 'UTC';
        lo := slot;
        FOR p IN SELECT cp.from_time, cp.to_time FROM annals.change_partitions cp
                 WHERE cp.to_time > slot AND cp.from_time < slot_end ORDER BY cp.from_time LOOP
            IF p.from_time > lo THEN
                PERFORM annals.attach_change_partition(lo, p.from_time);
                created := created + 1;
            END IF;
            lo := greatest(lo, p.to_time);
        END LOOP;
        IF lo < slot_end THEN
            PERFORM annals.attach_change_partition(lo, slot_end);
            created := created + 1;
        END IF;
        slot := slot_end;
    END LOOP;
    RETURN created;
END
$$;

-- One partition [lo, hi), named after its first day in UTC (changes_20261101): bounds are always
-- whole UTC days, so names are unique. Internal to create_change_partitions, which holds the lock.
CREATE FUNCTION attach_change_partition(lo timestamptz, hi timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    name text := 'changes_' || to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD');
BEGIN
    EXECUTE format('CREATE TABLE annals.%I (LIKE annals.changes INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
    EXECUTE format('ALTER TABLE annals.changes ATTACH PARTITION annals.%I FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
    PERFORM annals.name_change_partition_indexes(name);
END
$$;

-- Names a partition's indexes after the parent's (changes_row_history_idx_20261101 rather than
-- PostgreSQL's changes_20261101_schema_table_primary_key_position_idx), so that a query plan says
-- which index it uses in the words the documentation uses.
CREATE FUNCTION name_change_partition_indexes(part text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT ci.relname AS index_name, pi.relname || substr(part, length('changes') + 1) AS wanted
             FROM pg_catalog.pg_index x
             JOIN pg_catalog.pg_class ci ON ci.oid = x.indexrelid
             JOIN pg_catalog.pg_inherits h ON h.inhrelid = x.indexrelid
             JOIN pg_catalog.pg_class pi ON pi.oid = h.inhparent
             WHERE x.indrelid = format('annals.%I', part)::regclass LOOP
        IF r.index_name <> r.wanted THEN
            EXECUTE format('ALTER INDEX annals.%I RENAME TO %I', r.index_name, r.wanted);
        END IF;
    END LOOP;
END
$$;

-- A partition for each month that holds rows (not every month between the oldest and newest:
-- one stray row from 1970 must not make hundreds of empty partitions).
SELECT create_change_partitions(m, m)
FROM (SELECT DISTINCT date_trunc(p.unit, c.committed_at, 'UTC') AS m FROM changes_v1 c, partitioning p) months;

-- Indexes are built after the copy: one sort per partition instead of a B-tree insert per row.
INSERT INTO changes SELECT * FROM changes_v1 ORDER BY id;

SELECT setval('changes_id_seq', last_value, is_called) FROM changes_v1_id_seq;

DROP TABLE changes_v1;

-- A unique index on a partitioned table must contain the partition key. (position, committed_at)
-- keeps positions unique all the same: a position is a commit LSN plus an ordinal, and one commit
-- has one commit time, so the same change stored twice has the same committed_at too and collides.
ALTER TABLE changes ADD CONSTRAINT changes_pkey PRIMARY KEY (id, committed_at);
CREATE UNIQUE INDEX changes_position_key ON changes (position, committed_at);
-- Per-row history and time travel: all changes of one row, in order (per partition; the planner
-- merges the partitions' ordered scans).
CREATE INDEX changes_row_history_idx ON changes ("schema", "table", primary_key, position);
CREATE INDEX changes_committed_at_idx ON changes USING brin (committed_at);
CREATE INDEX changes_transaction_idx ON changes USING brin (transaction_id);
SELECT name_change_partition_indexes(name) FROM change_partitions;
