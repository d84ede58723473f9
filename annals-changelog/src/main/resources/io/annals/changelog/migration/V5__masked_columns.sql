-- Which columns of a change's images hold the mask placeholder ("****") rather than the value
-- the row had: a masked column's real value is never stored, so nothing may ever write the
-- placeholder back (a revert) or compare a row against it. NULL when no column was masked, which
-- is nearly every change: a NULL costs one bit in the row's null bitmap. A masked column whose value
-- was NULL is stored as NULL, a value the log does know, and is not listed.
--
-- Changes stored before this migration have NULL here too, so a reader that must not trust a
-- placeholder (revert) treats a "****" value of a change whose list is NULL as masked: it may
-- refuse a real "****", but never writes back a placeholder.
ALTER TABLE changes ADD COLUMN masked text[];
ALTER TABLE streamed_changes ADD COLUMN masked text[];
