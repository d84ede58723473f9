package io.annals.history.timetravel;

import java.util.List;
import java.util.Map;

/** The plans of time travel's queries, for tests in other packages (retention checks it leaves them indexed). */
public final class AsOfPlans {

    private AsOfPlans() {
    }

    /** The plan of {@link AsOf#row(String, Map)} ({@code EXPLAIN}), one line per element. */
    public static List<String> row(AsOf asOf, String table, Map<String, ?> primaryKey) {
        return asOf.explainRow(table, primaryKey);
    }
}
