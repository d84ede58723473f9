/**
 * The change log: schema {@code annals} ({@code annals.changes}, partitioned by commit time, and
 * the consumers' checkpoints), its Flyway migrations, and the writer that stores a batch of changes
 * together with its checkpoint. Start at {@link io.annals.changelog.ChangeLog}.
 *
 * <p>It is a module of its own so that the log has one owner: other modules write it only through
 * this API (an architecture test keeps new main code from writing its tables any other way), and
 * readers such as the audit trail or a feed need nothing of capture to use it.
 *
 * <pre>{@code
 * ChangeLog log = ChangeLog.at("jdbc:postgresql://localhost/app?user=annals");
 * log.migrate();
 * Optional<Checkpoint> checkpoint = log.checkpoint("annals");
 * }</pre>
 */
package io.annals.changelog;
