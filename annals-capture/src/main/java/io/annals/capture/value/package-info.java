/**
 * Column values as JSON: {@link io.annals.capture.value.ValueConverter} turns the text that
 * {@code pgoutput} sends for a value into exactly what {@code to_jsonb()} makes of it, and
 * {@link io.annals.capture.value.PgTypes} resolves the type OIDs it needs from the source's catalog.
 *
 * <p>It is separate from the worker because its rules are PostgreSQL's, not the pipeline's: they
 * are checked value by value against {@code to_jsonb()} on a real server, whatever the replication
 * around them does.
 *
 * <pre>{@code
 * ValueConverter values = new ValueConverter(PgTypes.builtinsOnly());
 * String json = values.toJson(1184, "2024-01-02 03:04:05+00");   // "2024-01-02T03:04:05+00:00"
 * }</pre>
 */
package io.annals.capture.value;
