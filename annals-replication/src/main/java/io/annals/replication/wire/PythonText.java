package io.annals.replication.wire;

import java.math.BigDecimal;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Values as a django-cqrs master writes them: Python's {@code str()} of an aware datetime for
 * {@code cqrs_updated}, {@code expires} to the second, and floats as Python's {@code repr} (what
 * {@code ujson} writes for a {@code Decimal} or a {@code float}). Reading is lenient: ISO 8601 with
 * {@code T} or a space, {@code Z} or an offset, any number of fraction digits.
 *
 * <pre>{@code
 * PythonText.dateTime(Instant.parse("2026-12-04T21:38:28.016887Z"));   // 2026-12-04 21:38:28.016887+00:00
 * PythonText.expires(Instant.parse("2026-12-04T21:38:28.9Z"));         // 2026-12-04T21:38:28+00:00
 * PythonText.floatRepr(12.5);                                          // 12.5
 * PythonText.parseInstant("2026-12-04T21:38:28Z");                     // the instant
 * }</pre>
 */
public final class PythonText {

    private static final int[] POWERS = {1, 10, 100, 1_000, 10_000, 100_000};
    private static final DateTimeFormatter SECONDS = DateTimeFormatter.ofPattern("uuuu-MM-dd HH:mm:ss");
    private static final Pattern DATE_TIME = Pattern.compile(
            "(\\d{4}-\\d{2}-\\d{2})[T ](\\d{2}:\\d{2}(?::\\d{2}(?:\\.(\\d{1,9}))?)?)\\s*(Z|z|[+-]\\d{2}(?::?\\d{2})?)?");

    private PythonText() {
    }

    /**
     * Python's {@code str(datetime)} of {@code instant} in UTC: microseconds, printed only when not
     * zero (as Python does), and {@code +00:00}.
     */
    public static String dateTime(Instant instant) {
        Instant t = instant.truncatedTo(ChronoUnit.MICROS);
        LocalDateTime local = LocalDateTime.ofInstant(t, ZoneOffset.UTC);
        StringBuilder s = new StringBuilder(32);
        seconds(s, local, ' ');
        int micros = local.getNano() / 1000;
        if (micros != 0) digits(s.append('.'), micros, 6);
        return s.append("+00:00").toString();
    }

    /** {@code expires} as the master writes it: UTC, to the second, {@code YYYY-MM-DDTHH:MM:SS+00:00}. */
    public static String expires(Instant instant) {
        LocalDateTime local = LocalDateTime.ofInstant(instant.truncatedTo(ChronoUnit.SECONDS), ZoneOffset.UTC);
        StringBuilder s = new StringBuilder(25);
        seconds(s, local, 'T');
        return s.append("+00:00").toString();
    }

    /**
     * {@code YYYY-MM-DD<sep>HH:MM:SS}, digit by digit: every message carries two of these, and a
     * formatter per call cost more than the rest of the body.
     */
    private static void seconds(StringBuilder s, LocalDateTime t, char separator) {
        if (t.getYear() < 1 || t.getYear() > 9999) {
            s.append(SECONDS.format(t).replace(' ', separator));
            return;
        }
        digits(s, t.getYear(), 4).append('-');
        digits(s, t.getMonthValue(), 2).append('-');
        digits(s, t.getDayOfMonth(), 2).append(separator);
        digits(s, t.getHour(), 2).append(':');
        digits(s, t.getMinute(), 2).append(':');
        digits(s, t.getSecond(), 2);
    }

    /** {@code value} (not negative) with leading zeros to {@code width} digits. */
    private static StringBuilder digits(StringBuilder s, int value, int width) {
        for (int div = POWERS[width - 1]; div > 0; div /= 10) s.append((char) ('0' + value / div % 10));
        return s;
    }

    /**
     * A datetime as Python's {@code str()} would print the value PostgreSQL's JSON gave: {@code T}
     * becomes a space and the fraction is padded to microseconds (or dropped when zero). Text that
     * is not a datetime (PostgreSQL's {@code infinity}) is returned as it is.
     */
    public static String dateTimeText(String iso) {
        Matcher m = DATE_TIME.matcher(iso);
        if (!m.matches()) return iso;
        String hms = m.group(2);
        int dot = hms.indexOf('.');
        String whole = dot < 0 ? hms : hms.substring(0, dot);
        if (whole.length() == 5) whole += ":00";
        String fraction = m.group(3);
        String micros = "";
        if (fraction != null) {
            String six = (fraction + "000000").substring(0, 6);
            if (!six.equals("000000")) micros = "." + six;
        }
        String offset = m.group(4);
        if (offset != null) {
            if (offset.equalsIgnoreCase("Z")) offset = "+00:00";
            else if (offset.length() == 3) offset += ":00";
            else if (offset.length() == 5) offset = offset.substring(0, 3) + ":" + offset.substring(3);
        }
        return m.group(1) + " " + whole + micros + (offset == null ? "" : offset);
    }

    /** A time of day as Python's {@code str(time)}: fraction padded to microseconds, or dropped when zero. */
    public static String timeText(String text) {
        try {
            LocalTime t = LocalTime.parse(text);
            String hms = String.format("%02d:%02d:%02d", t.getHour(), t.getMinute(), t.getSecond());
            int micros = t.getNano() / 1000;
            return micros == 0 ? hms : hms + "." + String.format("%06d", micros);
        } catch (DateTimeException e) {
            return text; // with a time zone (timetz), or not a time at all: as PostgreSQL wrote it
        }
    }

    /**
     * Reads a datetime leniently: {@code 2026-12-04 21:38:28.016887+00:00},
     * {@code 2026-12-04T21:38:28Z}, {@code 2026-12-04T21:38:28.1+0130}; a naive one is taken as UTC
     * (django-cqrs masters run with {@code USE_TZ}); a bare date as its midnight UTC.
     *
     * @throws WireException naming the text when it is not a datetime
     */
    public static Instant parseInstant(String text) {
        if (text == null) throw new WireException("a datetime is missing (null)");
        String t = text.trim();
        Matcher m = DATE_TIME.matcher(t);
        try {
            if (!m.matches()) {
                if (t.matches("\\d{4}-\\d{2}-\\d{2}")) return LocalDate.parse(t).atStartOfDay().toInstant(ZoneOffset.UTC);
                throw new WireException("'" + text + "' is not a datetime; expected e.g. 2026-12-04 21:38:28.016887+00:00"
                        + " or 2026-12-04T21:38:28Z");
            }
            String hms = m.group(2).length() == 5 ? m.group(2) + ":00" : m.group(2);
            LocalDateTime local = LocalDateTime.parse(m.group(1) + "T" + hms);
            String offset = m.group(4);
            if (offset == null || offset.equalsIgnoreCase("Z")) return local.toInstant(ZoneOffset.UTC);
            if (offset.length() == 3) offset += ":00";
            else if (offset.length() == 5) offset = offset.substring(0, 3) + ":" + offset.substring(3);
            return OffsetDateTime.of(local, ZoneOffset.of(offset)).toInstant();
        } catch (DateTimeException e) {
            throw new WireException("'" + text + "' is not a valid datetime: " + e.getMessage(), e);
        }
    }

    /**
     * Python's {@code repr(float)}: the shortest digits that read back as the same double, in
     * positional notation for exponents from -4 to 15 (always with a fraction: {@code 10.0}),
     * otherwise scientific with a signed exponent of two digits at least ({@code 1e+16},
     * {@code 1.5e-05}). Infinite and NaN values have no JSON form: {@code inf}, {@code -inf}, {@code nan}
     * are returned so that a caller can refuse them.
     */
    public static String floatRepr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
        double abs = Math.abs(d);
        // Where Java prints positionally (1e-3 to 1e7) it prints as Python does: the shortest digits that read back as
        // the same double, with at least one after the point.
        if (abs >= 1e-3 && abs < 1e7) return Double.toString(d);
        // Double.toString gives the shortest digits that round-trip (JDK 19+); reuse them, re-laid out.
        BigDecimal shortest = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = shortest.unscaledValue().toString();
        int exponent = digits.length() - 1 - shortest.scale(); // of the first digit
        String sign = d < 0 ? "-" : "";
        if (exponent >= -4 && exponent < 16) {
            String plain = shortest.toPlainString();
            return sign + (plain.indexOf('.') < 0 ? plain + ".0" : plain);
        }
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        String exp = String.format("%02d", Math.abs(exponent));
        return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + exp;
    }
}
