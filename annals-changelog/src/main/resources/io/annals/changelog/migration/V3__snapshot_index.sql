-- Where a table's log begins for time travel: its first SNAPSHOT row (the initial snapshot, or a
-- retention baseline). A partial index holds only those rows, so finding it is one probe and the
-- ordinary changes, which are nearly all of the log, cost nothing to write for it.
CREATE INDEX changes_snapshot_idx ON changes ("schema", "table", position) WHERE operation = 'SNAPSHOT';

-- Name the new index's partitions after it, as every other partition index is named.
SELECT name_change_partition_indexes(c.relname)
FROM pg_catalog.pg_inherits h JOIN pg_catalog.pg_class c ON c.oid = h.inhrelid
WHERE h.inhparent = 'changes'::regclass;
