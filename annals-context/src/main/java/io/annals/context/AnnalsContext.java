package io.annals.context;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SequencedMap;
import java.util.concurrent.Callable;

/**
 * An immutable application context (who, where, why), and the per-thread binding of one.
 *
 * <p>A context is a JSON object built from a {@code Map}. Binding it with {@link #with(Map)} makes
 * it {@linkplain #current() current} on this thread until the returned {@link Scope} closes;
 * {@link ContextDataSource} then records it with every write made on this thread. Binding inside
 * a bound scope merges: inner keys override outer ones, and closing the inner scope brings the
 * outer context back.
 *
 * <pre>{@code
 * try (var request = AnnalsContext.with(Map.of("user_id", 42, "endpoint", "/todo"))) {
 *     try (var job = AnnalsContext.with(Map.of("job", "reindex"))) {
 *         AnnalsContext.current().asMap(); // {endpoint=/todo, user_id=42, job=reindex}
 *     }
 *     // a context does not follow work to other threads by itself: carry it there
 *     executor.submit(AnnalsContext.current().wrap(() -> repository.save(todo)));
 * }
 * }</pre>
 *
 * <p>Contexts are validated when built, so a mistake surfaces where the context is made rather
 * than in some later write: see {@link InvalidContextException}.
 */
public final class AnnalsContext {

    private static final AnnalsContext EMPTY = new AnnalsContext(ContextJson.newObject());
    private static final ThreadLocal<Scope> BOUND = new ThreadLocal<>();

    // Never exposed and never mutated once built, so contexts can share subtrees freely.
    private final ObjectNode tree;
    private final Map<String, Object> map;
    private final String json;
    private final int sizeInBytes;

    AnnalsContext(ObjectNode tree) {
        this.tree = tree;
        this.map = ContextJson.toMap(tree);
        this.json = ContextJson.write(tree);
        this.sizeInBytes = ContextJson.utf8Length(json);
    }

    /** The context with no keys; binding it changes nothing, and nothing is recorded for it. */
    public static AnnalsContext empty() {
        return EMPTY;
    }

    /**
     * Builds a context without binding it, e.g. to bind it later or on another thread with
     * {@link #bind()}. Keys keep the order of a {@link SequencedMap} (such as a
     * {@code LinkedHashMap}) and are sorted otherwise, so that equal maps give equal JSON.
     *
     * <pre>{@code
     * AnnalsContext batch = AnnalsContext.of(Map.of("job", "nightly-import"));
     * batch.run(importer::run);
     * }</pre>
     *
     * @throws InvalidContextException if a key is null or not a string, a value cannot be written
     *     as JSON, or the JSON is longer than {@link ContextMessage#maxBytes()}
     */
    public static AnnalsContext of(Map<String, ?> values) {
        Objects.requireNonNull(values, "values");
        // Seen through a wildcard because generics are erased: raw callers can sneak in other keys.
        Map<?, ?> entries = values;
        List<Map.Entry<?, ?>> ordered = new ArrayList<>(entries.entrySet());
        for (Map.Entry<?, ?> entry : ordered) {
            if (!(entry.getKey() instanceof String)) {
                throw new InvalidContextException("Annals context keys must be non-null strings, but the context has a "
                        + (entry.getKey() == null ? "null key" : "key of type " + entry.getKey().getClass().getName())
                        + "; keys become the names of a JSON object's fields");
            }
        }
        if (!(values instanceof SequencedMap<?, ?>)) {
            ordered.sort((a, b) -> ((String) a.getKey()).compareTo((String) b.getKey()));
        }
        ObjectNode tree = ContextJson.newObject();
        for (Map.Entry<?, ?> entry : ordered) {
            String key = (String) entry.getKey();
            tree.set(key, ContextJson.toNode(key, entry.getValue()));
        }
        AnnalsContext context = tree.isEmpty() ? EMPTY : new AnnalsContext(tree);
        context.checkSize("");
        return context;
    }

    /**
     * The context bound to this thread, or {@link #empty()}. The result is a snapshot: it does
     * not change when scopes open or close later, which is what makes it safe to hand to another
     * thread.
     */
    public static AnnalsContext current() {
        Scope top = BOUND.get();
        return top == null ? EMPTY : top.context;
    }

    /**
     * Builds a context from {@code values} and binds it, merged over the current one, until the
     * returned scope closes. Same as {@code AnnalsContext.of(values).bind()}.
     *
     * <pre>{@code
     * try (var scope = AnnalsContext.with(Map.of("user_id", 42))) {
     *     todoRepository.markDone(7);
     * }
     * }</pre>
     *
     * @throws InvalidContextException as {@link #of(Map)}, or if the merged context is too long
     */
    public static Scope with(Map<String, ?> values) {
        return of(values).bind();
    }

    /**
     * Binds this context, merged over the current one (its keys win), until the returned scope
     * closes. On a thread with no context, such as a pool thread, the result is exactly this
     * context.
     *
     * <pre>{@code
     * AnnalsContext captured = AnnalsContext.current();
     * executor.execute(() -> {
     *     try (var scope = captured.bind()) {
     *         repository.save(todo);
     *     }
     * });
     * }</pre>
     *
     * @throws InvalidContextException if the merged context is longer than {@link ContextMessage#maxBytes()}
     */
    public Scope bind() {
        Scope top = BOUND.get();
        AnnalsContext merged = top == null ? this : top.context.mergedWith(this);
        if (merged != this) {
            merged.checkSize(" (merged with the enclosing context)");
        }
        Scope scope = new Scope(merged, top, Thread.currentThread());
        BOUND.set(scope);
        return scope;
    }

    /** Runs {@code task} with this context bound (merged over the current one). */
    @SuppressWarnings("try") // the scope is held only to be closed
    public void run(Runnable task) {
        Objects.requireNonNull(task, "task");
        try (Scope ignored = bind()) {
            task.run();
        }
    }

    /** Calls {@code task} with this context bound (merged over the current one) and returns its result. */
    @SuppressWarnings("try") // the scope is held only to be closed
    public <T> T call(Callable<T> task) throws Exception {
        Objects.requireNonNull(task, "task");
        try (Scope ignored = bind()) {
            return task.call();
        }
    }

    /**
     * A task that runs {@code task} with this context bound, wherever it runs.
     *
     * <pre>{@code executor.execute(AnnalsContext.current().wrap(() -> audit.record(event)));}</pre>
     */
    public Runnable wrap(Runnable task) {
        Objects.requireNonNull(task, "task");
        return () -> run(task);
    }

    /**
     * A task that calls {@code task} with this context bound, wherever it runs.
     *
     * <pre>{@code Future<Todo> f = executor.submit(AnnalsContext.current().wrap(() -> repository.load(7)));}</pre>
     */
    public <T> Callable<T> wrap(Callable<T> task) {
        Objects.requireNonNull(task, "task");
        return () -> call(task);
    }

    /** Whether this context has no keys. */
    public boolean isEmpty() {
        return map.isEmpty();
    }

    /**
     * The context as a deeply unmodifiable map of JSON values: strings, numbers, booleans, null,
     * maps and lists. Values passed in as other objects appear as they were written to JSON.
     */
    public Map<String, Object> asMap() {
        return map;
    }

    /** The context as a compact JSON object: exactly the content of the message that records it. */
    public String toJson() {
        return json;
    }

    /** The length of {@link #toJson()} in bytes of UTF-8, the measure the size limit applies to. */
    public int sizeInBytes() {
        return sizeInBytes;
    }

    /** Contexts are equal when they map the same keys to the same values, in any order. */
    @Override
    public boolean equals(Object other) {
        return other instanceof AnnalsContext that && map.equals(that.map);
    }

    @Override
    public int hashCode() {
        return map.hashCode();
    }

    @Override
    public String toString() {
        return "AnnalsContext" + json;
    }

    /** The JSON of this context with the statement text added, cut to {@code maxSqlBytes} of UTF-8. */
    String toJsonWithSql(String sql, int maxSqlBytes) {
        ObjectNode copy = ContextJson.newObject();
        copy.setAll(tree);
        if (ContextJson.utf8Length(sql) > maxSqlBytes) {
            copy.put(ContextMessage.SQL_KEY, ContextJson.truncateUtf8(sql, maxSqlBytes));
            copy.put(ContextMessage.SQL_TRUNCATED_KEY, true);
        } else {
            copy.put(ContextMessage.SQL_KEY, sql);
            // A context key of this name must not claim that our text was cut.
            copy.remove(ContextMessage.SQL_TRUNCATED_KEY);
        }
        return ContextJson.write(copy);
    }

    private AnnalsContext mergedWith(AnnalsContext inner) {
        if (inner.isEmpty()) {
            return this;
        }
        if (isEmpty()) {
            return inner;
        }
        ObjectNode merged = ContextJson.newObject();
        merged.setAll(tree);
        merged.setAll(inner.tree);
        return new AnnalsContext(merged);
    }

    private void checkSize(String what) {
        int limit = ContextMessage.maxBytes();
        if (sizeInBytes > limit) {
            throw new InvalidContextException(String.format(
                    "Annals context%s is %,d bytes of UTF-8 JSON, over the limit of %,d bytes. Keep identifiers in the "
                            + "context rather than payloads, or raise the limit with the system property -D%s=<bytes>.",
                    what, sizeInBytes, limit, ContextMessage.MAX_BYTES_PROPERTY));
        }
    }

    /**
     * The binding made by {@link AnnalsContext#with(Map)} or {@link AnnalsContext#bind()}; closing it
     * restores the context that was current before. Close scopes in reverse order of opening, on the
     * thread that opened them, which try-with-resources does; closing twice does nothing.
     *
     * <pre>{@code
     * try (AnnalsContext.Scope scope = AnnalsContext.with(Map.of("user_id", 42))) {
     *     scope.context(); // the merged context now current
     * }
     * }</pre>
     */
    public static final class Scope implements AutoCloseable {

        private final AnnalsContext context;
        private final Scope previous;
        private final Thread owner;
        private boolean closed;

        private Scope(AnnalsContext context, Scope previous, Thread owner) {
            this.context = context;
            this.previous = previous;
            this.owner = owner;
        }

        /** The context current while this scope is open: the bound one merged over the enclosing one. */
        public AnnalsContext context() {
            return context;
        }

        /**
         * Restores the context that was current when this scope opened.
         *
         * @throws IllegalStateException if called on another thread (nothing changes), or while
         *     scopes opened inside this one are still open; those are closed too, so that the
         *     thread is not left with a context nobody will remove
         */
        @Override
        public void close() {
            if (closed) {
                return;
            }
            Thread caller = Thread.currentThread();
            if (caller != owner) {
                throw new IllegalStateException("An Annals context scope must be closed on the thread that opened it (opened on '"
                        + owner.getName() + "', closed on '" + caller.getName() + "'). To carry a context to another "
                        + "thread, pass AnnalsContext.current() and bind it there.");
            }
            Scope top = BOUND.get();
            int stillOpen = 0;
            for (Scope s = top; s != this; s = s.previous) {
                if (s == null) {
                    // Not reachable through the public API; refuse rather than corrupt the binding.
                    throw new IllegalStateException("This Annals context scope is not bound on this thread");
                }
                stillOpen++;
            }
            for (Scope s = top; s != previous; s = s.previous) {
                s.closed = true;
            }
            if (previous == null) {
                BOUND.remove();
            } else {
                BOUND.set(previous);
            }
            if (stillOpen > 0) {
                throw new IllegalStateException("Annals context scope closed out of order: " + stillOpen
                        + " scope(s) opened inside it were still open. They have been closed as well, restoring the context "
                        + "from before this scope; close scopes in reverse order of opening (try-with-resources does).");
            }
        }
    }
}
