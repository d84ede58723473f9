/**
 * Retention: dropping whole time partitions of the change log past an age, after a SNAPSHOT
 * baseline of every row alive at the cut-off, so that time travel from the cut-off on stays exact.
 * {@link io.annals.history.retention.Retention} plans and applies it.
 *
 * <p>A package of its own because it is the one place that removes history; the writes
 * themselves are the change log's ({@code io.annals.changelog.Pruning}), the plan and its refusals
 * (capture or a feed not yet past the cut-off) are here.
 *
 * <pre>{@code
 * Retention.Plan plan = trail.retention().keep(Duration.ofDays(90)).plan();
 * System.out.println(plan.describe());
 * }</pre>
 */
package io.annals.history.retention;
