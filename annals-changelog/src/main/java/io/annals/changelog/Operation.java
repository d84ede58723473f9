package io.annals.changelog;

/**
 * What a change did to its row. {@code CREATE} is an INSERT; {@code SNAPSHOT} records a row that
 * already existed when capture began (or at a retention cut-off), so history has a baseline.
 *
 * <pre>{@code
 * if (change.operation() == Operation.UPDATE) { ... }
 * }</pre>
 */
public enum Operation {
    CREATE, UPDATE, DELETE, TRUNCATE, SNAPSHOT
}
