package io.annals.history.timetravel;

import io.annals.changelog.Position;
import io.annals.history.AuditTrail;
import io.annals.history.HistoryException;
import io.annals.history.HistoryTestSupport;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Bad input to diffs and materialisations gets a clear error and writes nothing. (Malformed
 * instants are covered by {@link InstantsTest}, unknown tables of as-of reads by {@link AsOfTest}.)
 */
class TimeTravelErrorsTest extends HistoryTestSupport {

    static String url;
    static AuditTrail trail;
    static List<Row> rows;

    @BeforeAll
    static void fixtureLog() {
        url = fixtureChangeLog("history_time_travel_errors");
        trail = AuditTrail.of(url);
        rows = fixture();
    }

    /** The position of the fixture's {@code i}-th change (see {@link HistoryTestSupport#fixture()}). */
    static Position pos(int i) {
        return rows.get(i).position();
    }

    static Position last() {
        return pos(rows.size() - 1);
    }

    @Test
    void aDiffGoesFromTheEarlierCutToTheLaterOne() {
        Instant early = T0;
        Instant late = T0.plusSeconds(3 * 3600);
        assertThatThrownBy(() -> trail.diff("orders", late, early)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("A diff goes from an earlier instant to a later one, but " + late + " is after " + early
                        + "; swap them");
        assertThatThrownBy(() -> trail.diff("orders", last(), pos(0))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("A diff goes from an earlier cut to a later one, but " + last() + " is after "
                        + pos(0)).hasMessageEndingWith("swap them");
        try (var same = trail.diff("orders", pos(2), pos(2))) {
            assertThat(same).as("a cut compared with itself").isEmpty();
        }
    }

    @Test
    void aDiffOfAnUnknownTableOrFromBeforeTheLogBeginsIsNamed() {
        assertThatThrownBy(() -> trail.diff("orderz", pos(0), last()).close()).isInstanceOf(HistoryException.class)
                .hasMessageStartingWith("Unknown table 'public.orderz'");
        assertThatThrownBy(() -> trail.diff("nope.orders", T0, T0.plusSeconds(3600)).close())
                .isInstanceOf(HistoryException.class).hasMessageStartingWith("Unknown table 'nope.orders'");
        // public.customers was snapshotted in the last transaction: its log begins there
        assertThatThrownBy(() -> trail.diff("customers", pos(0), last()).close()).isInstanceOf(HistoryException.class)
                .hasMessageContaining("Cannot read public.customers as of " + pos(0))
                .hasMessageContaining("nothing is known before that");
        assertThatThrownBy(() -> trail.diff("orders", T0.minusSeconds(1), T0).close()).isInstanceOf(HistoryException.class)
                .hasMessageContaining("before the change log's first change");
    }

    @Test
    void materializingAnUnknownTableWritesNothing() throws SQLException {
        assertThatThrownBy(() -> trail.asOf(last()).materialize("orders", "orderz").into("copy_unknown"))
                .isInstanceOf(HistoryException.class).hasMessageStartingWith("Unknown table 'public.orderz'");
        assertThatThrownBy(() -> trail.asOf(T0.minusSeconds(1)).materialize("orders").into("copy_early"))
                .isInstanceOf(HistoryException.class).hasMessageContaining("nothing is known before that");
        assertThat(schemaExists("copy_unknown")).isFalse();
        assertThat(schemaExists("copy_early")).isFalse();
        assertThatThrownBy(() -> trail.asOf(last()).materialize()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Name at least one table");
        assertThatThrownBy(() -> trail.asOf(last()).materialize("orders").into(" "))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("A target schema is required");
    }

    @Test
    void materializingOverTheSourceOrTheChangeLogIsRefused() throws SQLException {
        assertThatThrownBy(() -> trail.asOf(last()).materialize("orders", "shop.orders").into("shop"))
                .isInstanceOf(HistoryException.class)
                .hasMessage("Cannot materialize shop.orders into schema shop: the copy would replace the live table."
                        + " Choose another schema.");
        assertThatThrownBy(() -> trail.asOf(last()).materialize("orders").into("public"))
                .isInstanceOf(HistoryException.class).hasMessageContaining("would replace the live table");
        assertThatThrownBy(() -> trail.asOf(last()).materialize("orders").into("annals"))
                .isInstanceOf(HistoryException.class).hasMessageStartingWith("Cannot materialize into schema annals");
        assertThat(count("SELECT count(*) FROM pg_tables WHERE schemaname IN ('public', 'shop', 'annals')"
                + " AND tablename = 'orders'")).as("no copy written next to the log or a source").isZero();
        assertThat(count("SELECT count(*) FROM annals.changes")).isEqualTo(rows.size());
    }

    @Test
    void anExistingCopyIsKeptUnlessReplacingIsAskedFor() throws SQLException {
        Materialization.Result first = trail.asOf(pos(0)).materialize("orders").into("copy_existing");
        assertThat(first.rows()).isEqualTo(1);
        assertThatThrownBy(() -> trail.asOf(pos(2)).materialize("orders").into("copy_existing"))
                .isInstanceOf(HistoryException.class)
                .hasMessageStartingWith("Table copy_existing.orders already exists")
                .hasMessageContaining("replacingExisting()");
        assertThat(count("SELECT count(*) FROM copy_existing.orders")).as("the first copy is untouched").isEqualTo(1);

        Materialization.Result replaced = trail.asOf(pos(2)).materialize("orders").replacingExisting()
                .into("copy_existing");
        assertThat(replaced.rows()).isEqualTo(2);
        assertThat(count("SELECT count(*) FROM copy_existing.orders")).isEqualTo(2);
    }

    private static boolean schemaExists(String schema) throws SQLException {
        return count("SELECT count(*) FROM pg_namespace WHERE nspname = '" + schema + "'") > 0;
    }

    private static long count(String sql) throws SQLException {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
