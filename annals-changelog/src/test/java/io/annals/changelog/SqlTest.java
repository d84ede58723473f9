package io.annals.changelog;

import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Quoting through pgjdbc, checked by what PostgreSQL reads back, and the transaction helper. */
class SqlTest {

    private static final String[] AWKWARD = {"plain", "it's", "back\\slash", "both \\' and ''", "\"quoted\"",
            "Mixed Case", "ünïcødé ☃", "new\nline", "$fn$ dollar", ""};

    private static String url;

    @BeforeAll
    static void database() {
        url = TestPostgres.newDatabase("changelog_sql");
        TestPostgres.execute(url, "CREATE TABLE tx (n int)");
    }

    @Test
    void identifiersAreAlwaysQuoted() {
        assertThat(Sql.identifier("orders")).isEqualTo("\"orders\"");
        assertThat(Sql.identifier("say \"hi\"")).isEqualTo("\"say \"\"hi\"\"\"");
        assertThat(Sql.qualified("my.schema", "Orders")).isEqualTo("\"my.schema\".\"Orders\"");
    }

    @Test
    void aLiteralIsPlainUnlessItHoldsABackslash() {
        assertThat(Sql.literal("it's")).isEqualTo("'it''s'");
        assertThat(Sql.literal("c:\\new")).isEqualTo("E'c:\\\\new'");
        assertThat(Sql.literal("")).isEqualTo("''");
    }

    @ParameterizedTest
    @ValueSource(strings = {"on", "off"})
    void literalsReadBackTheSameWhateverStandardConformingStrings(String setting) throws SQLException {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement()) {
            s.execute("SET escape_string_warning = off");
            s.execute("SET standard_conforming_strings = " + setting);
            for (String text : AWKWARD) {
                try (ResultSet rs = s.executeQuery("SELECT " + Sql.literal(text))) {
                    rs.next();
                    assertThat(rs.getString(1)).as("literal %s", Sql.literal(text)).isEqualTo(text);
                }
            }
        }
    }

    @Test
    void identifiersNameWhatTheySay() throws SQLException {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement()) {
            for (String name : AWKWARD) {
                if (name.isEmpty()) continue; // PostgreSQL has no zero-length identifier
                s.execute("CREATE TABLE " + Sql.identifier(name) + " (" + Sql.identifier(name) + " int)");
                try (ResultSet rs = s.executeQuery("SELECT attname FROM pg_attribute WHERE attrelid = "
                        + Sql.literal(Sql.qualified("public", name)) + "::regclass AND attnum > 0")) {
                    rs.next();
                    assertThat(rs.getString(1)).isEqualTo(name);
                }
            }
        }
    }

    @Test
    void aNulCharacterIsAClearError() {
        assertThatThrownBy(() -> Sql.literal("a\0b")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("NUL character (at index 1)").hasMessageContaining("SQL literal");
        assertThatThrownBy(() -> Sql.identifier("\0")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("NUL character (at index 0)").hasMessageContaining("SQL identifier");
    }

    @Test
    void workInATransactionIsCommittedAndAutocommitRestored() throws SQLException {
        try (Connection c = TestPostgres.connect(url)) {
            int n = Sql.inTransaction(c, tx -> {
                assertThat(tx.getAutoCommit()).isFalse();
                insert(tx, 1);
                return 1;
            });
            assertThat(n).isEqualTo(1);
            assertThat(c.getAutoCommit()).isTrue();
        }
        assertThat(PartitioningTest.rows(url, "SELECT n FROM tx WHERE n = 1")).containsExactly("1");
    }

    @Test
    void aFailureRollsBackAndIsRethrownAsItWas() throws SQLException {
        try (Connection c = TestPostgres.connect(url)) {
            assertThatThrownBy(() -> Sql.inTransaction(c, tx -> {
                insert(tx, 2);
                try (Statement s = tx.createStatement()) {
                    s.execute("SELECT 1 / 0");
                }
                return null;
            })).isInstanceOf(SQLException.class).hasMessageContaining("division by zero").hasNoSuppressedExceptions();
            assertThat(c.getAutoCommit()).isTrue();
            IllegalStateException thrown = new IllegalStateException("the work's own failure");
            assertThatThrownBy(() -> Sql.inTransaction(c, tx -> {
                insert(tx, 3);
                throw thrown;
            })).isSameAs(thrown);
            // An Error too: were autocommit restored with the transaction open, the row would commit.
            assertThatThrownBy(() -> Sql.inTransaction(c, tx -> {
                insert(tx, 4);
                throw new AssertionError("an error");
            })).isInstanceOf(AssertionError.class);
            assertThat(c.getAutoCommit()).isTrue();
        }
        assertThat(PartitioningTest.rows(url, "SELECT n FROM tx WHERE n IN (2, 3, 4)")).isEmpty();
    }

    @Test
    void aRollbackThatFailsTooIsAttachedToTheFirstFailure() throws SQLException {
        try (Connection c = TestPostgres.connect(url)) {
            assertThatThrownBy(() -> Sql.inTransaction(c, tx -> {
                tx.close(); // as a broken connection would be
                throw new SQLException("the work's own failure");
            })).hasMessage("the work's own failure")
                    .satisfies(e -> assertThat(e.getSuppressed()).hasSize(2));
        }
    }

    private static void insert(Connection c, int n) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("INSERT INTO tx VALUES (" + n + ")");
        }
    }
}
