-- The columns whose values a change's images do not hold because capture's column policy withheld
-- them: masked ones that hold the placeholder "****" instead of a value, and omitted ones, absent
-- from the images. Nothing may ever write a placeholder or a default back in place of such a value
-- (a revert), nor compare a row against one. NULL when nothing was withheld, which is nearly every
-- change: a NULL costs one bit in the row's null bitmap. A masked column whose value was NULL is
-- stored as NULL, a value the log does know, and is not listed.
--
-- Changes stored before this migration have NULL here too, so a reader that must not trust a
-- placeholder (revert) treats a "****" value of a change whose list is NULL as masked: it may
-- refuse a real "****", but never writes back a placeholder.
ALTER TABLE changes ADD COLUMN withheld text[];
ALTER TABLE streamed_changes ADD COLUMN withheld text[];
