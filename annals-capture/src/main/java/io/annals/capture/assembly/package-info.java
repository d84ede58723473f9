/**
 * Assembling changes from the decoded stream: {@link io.annals.capture.assembly.ChangeAssembler}
 * tracks relations ({@link io.annals.capture.assembly.RelationInfo}) and the open (or streamed)
 * transaction, numbers each change inside it, stitches it to the application context that came
 * before it, and hands out {@link io.annals.capture.assembly.PendingChange}s and the transaction
 * {@link io.annals.capture.assembly.Boundary boundaries} the pipeline reacts to.
 *
 * <p>A package of its own because it is pure: messages in, changes out, no thread and no write, so
 * that its rules (ordinals, context, what the checkpoint already covers) can be read and tested
 * alone. Not exported: an internal of the worker.
 *
 * <pre>{@code
 * ChangeAssembler assembler = new ChangeAssembler(options, types, catalog, null, checkpoint, batch::add);
 * if (assembler.accept(decoder.decode(buffer)) instanceof Boundary.TransactionEnd end) confirmUpTo(end.endLsn());
 * }</pre>
 */
package io.annals.capture.assembly;
