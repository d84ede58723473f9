-- Time travel must know when an UPDATE moved a row to another primary key: such a change is logged
-- once, under the new key, with the old key in its before image, so the old key's own history does
-- not show that the row left it. Key changes are rare; a partial index holds only them, so asking
-- whether one left a given key (after its last change, up to a cut) is one short probe, and the
-- ordinary changes, nearly all of the log, cost nothing to write for it.
CREATE INDEX changes_key_change_idx ON changes ("schema", "table", position)
    WHERE operation = 'UPDATE' AND (before @> primary_key) IS NOT TRUE;
-- Without statistics on the expression, the planner guesses that nearly every UPDATE changes its
-- key (NOT @> is estimated at 99.9%) and prefers to scan a range of positions instead.
CREATE STATISTICS changes_key_change_stats ON (before @> primary_key) FROM changes;

-- Name the new index's partitions after it, as every other partition index is named.
SELECT name_change_partition_indexes(c.relname)
FROM pg_catalog.pg_inherits h JOIN pg_catalog.pg_class c ON c.oid = h.inhrelid
WHERE h.inhparent = 'changes'::regclass;
