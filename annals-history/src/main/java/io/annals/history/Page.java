package io.annals.history;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

/**
 * One page of a {@link ChangeQuery}: its items and, if there are more, the query that continues
 * after them (keyset pagination on the change log's position, never OFFSET).
 *
 * <p>{@link #cursor()} is the same continuation as a string, for a web API's {@code next} link:
 * give it back to {@link ChangeQuery#continueAfter(String)} on the same query.
 *
 * <pre>{@code
 * Page<Change> first = trail.changes().table("orders").descending().page(20);
 * String token = first.cursor().orElse(null);                     // send to the client
 * Page<Change> second = trail.changes().table("orders").descending().continueAfter(token).page(20);
 * }</pre>
 *
 * @param <T> the items' type: {@link Change}, or what {@link #map(Function)} made of them
 */
public final class Page<T> {

    private final List<T> items;
    private final ChangeQuery next;
    private final String cursor;

    Page(List<T> items, ChangeQuery next, String cursor) {
        this.items = List.copyOf(items);
        this.next = next;
        this.cursor = cursor;
    }

    /** This page's items, in the query's order. */
    public List<T> items() {
        return items;
    }

    /** The query for the following page, if there are more changes. */
    public Optional<ChangeQuery> next() {
        return Optional.ofNullable(next);
    }

    /** Whether there are more changes after this page. */
    public boolean hasNext() {
        return next != null;
    }

    /** The continuation token for {@link ChangeQuery#continueAfter(String)}, if there are more changes. */
    public Optional<String> cursor() {
        return Optional.ofNullable(cursor);
    }

    /** This page with each item transformed by {@code mapper} (which must not return null); {@link #next()} is unchanged. */
    public <R> Page<R> map(Function<? super T, ? extends R> mapper) {
        Objects.requireNonNull(mapper, "mapper");
        return new Page<>(items.stream().<R>map(mapper).toList(), next, cursor);
    }

    @Override
    public String toString() {
        return "Page" + items + (next == null ? "" : " (more after " + cursor + ")");
    }
}
