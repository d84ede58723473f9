package io.annals.projections;

import java.util.List;
import java.util.Map;

/**
 * A Java mapping: the read rows one source row stands for, from its image. It must be pure (the
 * same change gives the same rows, whatever else happened), because replay, verify and rebuild
 * run it again and must get what the live projection wrote.
 *
 * <p>The rows are column name to value; the projector adds {@code canonical_type} and
 * {@code canonical_pk}. Values are written in their text form, so a {@code String} suits any
 * column; numbers, booleans, {@code java.time} values, lists (for arrays) and maps (for json)
 * are rendered as PostgreSQL reads them. A column the row leaves out gets its default.
 *
 * <pre>{@code
 * RowMapper income = change -> List.of(Map.of(
 *         "kind", "income",
 *         "amount", change.after("amount"),
 *         "business_pk", change.after("business_id")));
 * }</pre>
 */
@FunctionalInterface
public interface RowMapper {

    /**
     * The read rows of {@code change}'s canonical key: none, one or many. Called for inserts,
     * updates and snapshot rows; a delete removes the key's rows without calling it.
     *
     * @throws Exception to quarantine the change (see {@link FailurePolicy})
     */
    List<Map<String, Object>> rows(SourceChange change) throws Exception;
}
