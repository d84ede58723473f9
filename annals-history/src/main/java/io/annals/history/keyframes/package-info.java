/**
 * Keyframes: periodic compact copies of each table's live rows at a position of the change log,
 * so that a table as of any cut is read as the nearest keyframe at or before the cut plus the
 * changes after it, at a cost that follows the table's rows and the changes since the keyframe, not
 * the table's whole history. {@link io.annals.history.keyframes.Keyframes} builds, lists and prunes
 * them; {@link io.annals.history.keyframes.Keyframer} writes them in the background as an
 * exactly-once change feed consumer. Built from the change log alone, never from the source tables.
 */
package io.annals.history.keyframes;
