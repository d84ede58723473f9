package io.annals.projections;

import java.util.List;

/**
 * What verify found: the canonical keys whose read rows differ from a recomputation from the
 * canonical sources. {@link Projections#repair} returns the same report for what it fixed.
 *
 * <pre>{@code
 * VerifyReport report = projections.verify(journal);
 * if (!report.consistent()) System.out.println(report.summary());
 * }</pre>
 *
 * @param projection  the projection's name
 * @param keysChecked canonical keys compared (from the sources, plus read rows whose source row is gone)
 * @param missing     keys with source rows but no read rows
 * @param extra       keys with read rows but no source row (or whose mapping now gives none)
 * @param different   keys whose read rows differ
 * @param examples    the first differences, up to 100
 * @param repaired    whether the differences were repaired
 */
public record VerifyReport(String projection, long keysChecked, long missing, long extra, long different,
                           List<Difference> examples, boolean repaired) {

    /**
     * How a key's read rows differ.
     *
     * <pre>{@code
     * long missing = report.examples().stream().filter(d -> d.kind() == VerifyReport.Kind.MISSING).count();
     * }</pre>
     */
    public enum Kind {
        MISSING, EXTRA, DIFFERENT
    }

    /**
     * One key's difference.
     *
     * <pre>{@code
     * for (VerifyReport.Difference d : report.examples()) System.out.println(d.kind() + " " + d.canonicalPk());
     * }</pre>
     *
     * @param expected the rows a recomputation gives, as PostgreSQL row text (sorted)
     * @param actual   the read rows, likewise
     */
    public record Difference(Kind kind, String canonicalType, String canonicalPk, List<String> expected, List<String> actual) {
    }

    public VerifyReport {
        examples = List.copyOf(examples);
    }

    /** Whether the read table matched the sources everywhere. */
    public boolean consistent() {
        return missing == 0 && extra == 0 && different == 0;
    }

    /** All differences found. */
    public long differences() {
        return missing + extra + different;
    }

    /** One line: what was checked, what differed (and whether it was repaired). */
    public String summary() {
        return String.format("%s: %,d keys checked, %,d missing, %,d extra, %,d different%s", projection, keysChecked,
                missing, extra, different, repaired && !consistent() ? " (repaired)" : consistent() ? " (consistent)" : "");
    }
}
