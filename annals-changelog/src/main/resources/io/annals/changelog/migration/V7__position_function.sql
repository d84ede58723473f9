-- The text form of a position (see io.annals.changelog.Position): the commit LSN and the ordinal as
-- fixed-width upper-case hex, so that text order under "C" is numeric order. These are the one place
-- SQL makes or reads a position; Java's Position is the same codec, and a test holds the two to each
-- other. Simple SQL functions: the planner inlines them, so they cost nothing over the expressions.
CREATE FUNCTION position_text(lsn bigint, ordinal bigint) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT lpad(upper(to_hex(lsn)), 16, '0') || '.' || lpad(upper(to_hex(ordinal)), 8, '0') $$;

-- The commit LSN of a position's text, as the signed 64-bit value Java's long holds.
CREATE FUNCTION position_lsn(pos text) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT ('x' || substr(pos, 1, 16))::bit(64)::bigint $$;
