package io.annals.projections;

import io.annals.changelog.Position;

import java.util.Optional;

/**
 * Where a projection has got, from its feed's registry in the change log and its quarantine.
 *
 * <pre>{@code
 * for (ProjectionStatus s : projections.status()) System.out.println(s.name() + " " + s.changesBehind());
 * }</pre>
 *
 * @param name          the projection's name
 * @param position      the position of the last change applied, if any
 * @param changesBehind changes in the log it has not read yet
 * @param secondsBehind how long the oldest of them has waited
 * @param quarantined   changes in its quarantine (not discarded)
 * @param lastError     the failure it is retrying (a halted projection's reason), if any
 */
public record ProjectionStatus(String name, Optional<Position> position, long changesBehind, double secondsBehind,
                               int quarantined, Optional<String> lastError) {
}
