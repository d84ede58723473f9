package io.annals.cli;

import io.annals.changelog.Position;
import io.annals.history.AuditTrail;
import io.annals.history.timetravel.AsOf;
import io.annals.history.timetravel.Instants;

import java.time.Instant;

/**
 * A cut of the change log as typed on the command line: an instant ({@code 2026-11-23 10:15},
 * {@code 2026-11-23T10:15:30Z}) or a position ({@code 00000000016B3748.00000003}, {@code 0/16B3748}).
 *
 * <pre>{@code
 * AsOf then = Cut.parse("2026-11-23 10:15", "--at").asOf(trail);
 * }</pre>
 */
sealed interface Cut {

    record AtInstant(Instant instant) implements Cut {
        @Override
        public String toString() {
            return instant.toString();
        }
    }

    record AtPosition(Position position) implements Cut {
        @Override
        public String toString() {
            return position.toString();
        }
    }

    /** The cut {@code text} denotes; {@code option} names where it came from, for the error message. */
    static Cut parse(String text, String option) {
        // The two notations cannot be confused: a position has no '-', an instant always has one.
        try {
            return new AtPosition(Position.parse(text));
        } catch (IllegalArgumentException notPosition) {
            try {
                return new AtInstant(Instants.parse(text));
            } catch (IllegalArgumentException notInstant) {
                throw new IllegalArgumentException(option + " '" + text + "' is neither an instant nor a position; use"
                        + " e.g. 2026-11-23T10:15:30Z, 2026-11-23 10:15 (UTC) or 2026-11-23, or a position of the"
                        + " change log such as 00000000016B3748.00000003 (see 'annals history')");
            }
        }
    }

    /** The change log as it stood at this cut. */
    default AsOf asOf(AuditTrail trail) {
        return switch (this) {
            case AtInstant i -> trail.asOf(i.instant());
            case AtPosition p -> trail.asOf(p.position());
        };
    }
}
