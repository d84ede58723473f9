/**
 * The application side of Annals: who changed a row, and why.
 *
 * <p>The capture worker reads row changes from the WAL, which knows nothing of users or HTTP
 * requests. Applications bind an {@link io.annals.context.AnnalsContext} to the code that writes,
 * and {@link io.annals.context.ContextDataSource} writes it into the same transaction as a
 * logical decoding message ({@code pg_logical_emit_message}), just before the rows it describes.
 * {@link io.annals.context.AnnalsContextFilter} binds one per servlet request.
 *
 * <pre>{@code
 * DataSource db = ContextDataSource.wrap(pool);
 * try (var scope = AnnalsContext.with(Map.of("user_id", 42, "endpoint", "/todo"))) {
 *     try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
 *         s.executeUpdate("UPDATE todo SET done = true WHERE id = 7");
 *     }
 * }
 * }</pre>
 */
package io.annals.context;
