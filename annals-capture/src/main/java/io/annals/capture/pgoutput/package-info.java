/**
 * A decoder of PostgreSQL's {@code pgoutput} logical replication protocol, versions 1 to 4: bytes
 * in, typed {@link io.annals.capture.pgoutput.PgOutputMessage messages} out.
 *
 * <p>It is kept apart from the worker because it touches no database: it can be tested message by
 * message against the protocol's byte layout and measured on its own (the JMH benchmark), and the
 * worker's pipeline depends on it rather than the other way round.
 *
 * <pre>{@code
 * PgOutputDecoder decoder = new PgOutputDecoder(4);
 * if (decoder.decode(buffer) instanceof PgOutputMessage.Insert insert) { ... }
 * }</pre>
 */
package io.annals.capture.pgoutput;
