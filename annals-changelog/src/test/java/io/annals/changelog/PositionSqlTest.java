package io.annals.changelog;

import io.annals.testkit.TestPostgres;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

import static org.assertj.core.api.Assertions.assertThat;

/** The change log's SQL position functions are the same codec as {@link Position}. */
class PositionSqlTest {

    private static String url;

    @BeforeContainer
    static void migrate() {
        url = TestPostgres.newDatabase("position_sql");
        ChangeLog.at(url).migrate();
    }

    @Property(tries = 300)
    void sqlWritesAndReadsPositionsAsJavaDoes(@ForAll long lsn, @ForAll @LongRange(min = 0, max = Position.MAX_ORDINAL) long ordinal)
            throws SQLException {
        Position p = Position.of(lsn, ordinal);
        try (Connection c = TestPostgres.connect(url);
             PreparedStatement ps = c.prepareStatement("SELECT annals.position_text(?, ?), annals.position_lsn(?)")) {
            ps.setLong(1, lsn);
            ps.setLong(2, ordinal);
            ps.setString(3, p.toString());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo(p.toString());
                assertThat(rs.getLong(2)).isEqualTo(lsn);
            }
        }
    }
}
