package io.annals.changelog;

import java.util.Locale;

/**
 * Where a change sits in the total order of the change log: the commit LSN of its transaction,
 * then its ordinal inside that transaction.
 *
 * <p>The text form is fixed-width hex, {@code 00000000016B3748.00000003}, so that comparing two
 * positions as strings (the {@code "C"} collation, as the change log's column uses) gives the same
 * answer as comparing them as numbers. That keeps the column readable in psql and still indexable.
 *
 * <pre>{@code
 * Position p = Position.of(0x16B3748L, 3);
 * Position q = Position.parse("00000000016B3748.00000003");   // equal to p
 * }</pre>
 *
 * @param lsn     the commit LSN of the transaction (for the initial snapshot, just below the
 *                slot's consistent point)
 * @param ordinal the change's index inside its transaction, from 0
 */
public record Position(long lsn, long ordinal) implements Comparable<Position> {

    /** The largest ordinal the text form can hold. */
    public static final long MAX_ORDINAL = 0xFFFF_FFFFL;

    public Position {
        if (ordinal < 0 || ordinal > MAX_ORDINAL) {
            throw new IllegalArgumentException("ordinal out of range [0, 2^32): " + ordinal);
        }
    }

    /** The position of change {@code ordinal} in the transaction that committed at {@code lsn}. */
    public static Position of(long lsn, long ordinal) {
        return new Position(lsn, ordinal);
    }

    /** Parses the fixed-width text form; also accepts an LSN alone ({@code 16/B374D848}) as ordinal 0. */
    public static Position parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("A position is required, e.g. 00000000016B3748.00000003 or 0/16B3748");
        }
        String t = text.trim();
        try {
            int dot = t.indexOf('.');
            if (dot == 16 && t.length() == 25) {
                return new Position(Long.parseUnsignedLong(t.substring(0, 16), 16), Long.parseLong(t.substring(17), 16));
            }
            int slash = t.indexOf('/');
            if (slash > 0 && dot < 0) {
                long hi = Long.parseLong(t.substring(0, slash), 16);
                long lo = Long.parseLong(t.substring(slash + 1), 16);
                return new Position((hi << 32) | lo, 0);
            }
        } catch (NumberFormatException e) {
            // fall through to the error below
        }
        throw new IllegalArgumentException("Not a position: '" + text
                + "'. Use the change log's form (00000000016B3748.00000003) or an LSN (0/16B3748).");
    }

    /** The LSN in PostgreSQL's own notation, e.g. {@code 0/16B3748}. */
    public String lsnText() {
        return formatLsn(lsn);
    }

    /** Formats an LSN in PostgreSQL's notation. */
    public static String formatLsn(long lsn) {
        return Long.toHexString(lsn >>> 32).toUpperCase(Locale.ROOT) + "/"
                + Long.toHexString(lsn & 0xFFFF_FFFFL).toUpperCase(Locale.ROOT);
    }

    @Override
    public int compareTo(Position o) {
        int c = Long.compareUnsigned(lsn, o.lsn);
        return c != 0 ? c : Long.compare(ordinal, o.ordinal);
    }

    @Override
    public String toString() {
        char[] out = new char[25];
        writeHex(out, 0, lsn, 16);
        out[16] = '.';
        writeHex(out, 17, ordinal, 8);
        return new String(out);
    }

    /** Appends the text form to {@code out}, as {@link #toString()} gives it, without making a String. */
    StringBuilder appendTo(StringBuilder out) {
        appendHex(out, lsn, 16);
        out.append('.');
        appendHex(out, ordinal, 8);
        return out;
    }

    private static void appendHex(StringBuilder out, long value, int digits) {
        for (int i = digits - 1; i >= 0; i--) out.append(HEX[(int) ((value >>> (4 * i)) & 0xF)]);
    }

    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private static void writeHex(char[] out, int at, long value, int digits) {
        for (int i = digits - 1; i >= 0; i--) {
            out[at + i] = HEX[(int) (value & 0xF)];
            value >>>= 4;
        }
    }
}
