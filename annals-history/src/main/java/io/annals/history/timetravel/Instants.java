package io.annals.history.timetravel;

import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;

/**
 * Parses the instants people type: ISO-8601 instants and offset date-times, and dates with an
 * optional time of day, read as UTC.
 *
 * <pre>{@code
 * Instants.parse("2026-11-23T10:15:30Z");        // ISO-8601 instant
 * Instants.parse("2026-11-23T11:15:30+01:00");   // same instant, with an offset
 * Instants.parse("2026-11-23 10:15");            // UTC, seconds 0
 * Instants.parse("2026-11-23");                  // UTC midnight
 * }</pre>
 */
public final class Instants {

    private Instants() {
    }

    /**
     * The instant {@code text} denotes: {@code 2026-11-23T10:15:30Z}, {@code 2026-11-23T10:15:30.5+01:00},
     * or {@code yyyy-MM-dd[ HH:mm[:ss[.fraction]]]} in UTC (a {@code T} may replace the space).
     *
     * @throws IllegalArgumentException for anything else, with a message that shows a valid example
     */
    public static Instant parse(String text) {
        if (text != null && !text.isBlank()) {
            String t = text.trim();
            if (t.length() > 10 && t.charAt(10) == ' ') {
                t = t.substring(0, 10) + 'T' + t.substring(11).trim();
            }
            try {
                return OffsetDateTime.parse(t).toInstant();
            } catch (DateTimeParseException notOffset) {
                // next form
            }
            try {
                return LocalDateTime.parse(t).toInstant(ZoneOffset.UTC);
            } catch (DateTimeParseException notLocal) {
                // next form
            }
            try {
                return LocalDate.parse(t).atStartOfDay().toInstant(ZoneOffset.UTC);
            } catch (DateTimeParseException notDate) {
                // fall through to the error below
            }
        }
        throw new IllegalArgumentException("Not an instant: '" + text + "'; use e.g. 2026-11-23T10:15:30Z"
                + " (ISO-8601, with Z or an offset) or 2026-11-23 10:15[:30] (UTC)");
    }
}
