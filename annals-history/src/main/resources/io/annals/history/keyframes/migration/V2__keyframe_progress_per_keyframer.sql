-- Each keyframer (one per feed name) keeps its own counts of the changes since each table's last
-- keyframe: counts shared by table alone were added to by every keyframer, each counting the same
-- changes, so a table came due once per keyframer as early. Counts kept so far were the default
-- keyframer's.
ALTER TABLE keyframe_progress ADD COLUMN keyframer text NOT NULL DEFAULT 'keyframes';
ALTER TABLE keyframe_progress DROP CONSTRAINT keyframe_progress_pkey;
ALTER TABLE keyframe_progress ADD PRIMARY KEY (keyframer, "schema", "table");
ALTER TABLE keyframe_progress ALTER COLUMN keyframer DROP DEFAULT;
