package io.annals.changelog;

import io.annals.testkit.TestPostgres;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ChangeLog#migrate()} baselines only a schema {@code annals} that something else already
 * uses; a change log it finds keeps its history. (The event store's side: annals-events' MigrationTest.)
 */
class ChangeLogMigrationTest {

    /** The history's entries as "version type": "- SCHEMA" says Flyway created the schema, "0 BASELINE" that it found it in use. */
    private static List<String> history(String url) {
        return TestPostgres.rows(url, "SELECT coalesce(version, '-') || ' ' || type FROM annals.flyway_schema_history"
                + " ORDER BY installed_rank");
    }

    /** The history of a change log that had its database to itself: Flyway's note, then every migration in order. */
    private static List<String> alone() {
        String url = TestPostgres.newDatabase("changelog_alone");
        ChangeLog.at(url).migrate();
        List<String> history = history(url);
        assertThat(history).startsWith("- SCHEMA", "1 SQL", "2 SQL", "3 SQL", "4 SQL", "5 SQL", "6 SQL");
        return history;
    }

    @Test
    void aChangeLogInstalledBeforeBaseliningExistedKeepsItsHistoryAndGetsTheRest() {
        String url = TestPostgres.newDatabase("changelog_upgrade");
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(url);
        // Exactly how earlier versions of ChangeLog.migrate() configured Flyway, stopped at V3.
        Flyway.configure().dataSource(ds).schemas(ChangeLog.SCHEMA).createSchemas(true)
                .locations("classpath:io/annals/changelog/migration").target("3").load().migrate();
        String installed = "SELECT installed_rank, version, checksum, installed_on FROM annals.flyway_schema_history"
                + " ORDER BY installed_rank";
        List<String> before = TestPostgres.rows(url, installed);
        assertThat(history(url)).containsExactly("- SCHEMA", "1 SQL", "2 SQL", "3 SQL");

        ChangeLog.at(ds).migrate();

        assertThat(history(url)).isEqualTo(alone());
        assertThat(TestPostgres.rows(url, installed)).startsWith(before.toArray(String[]::new));
    }

    @Test
    void aSchemaAlreadyInUseIsBaselinedAtZeroSoThatEveryMigrationRuns() {
        String url = TestPostgres.newDatabase("changelog_shared_schema");
        TestPostgres.execute(url, "CREATE SCHEMA annals", "CREATE TABLE annals.neighbour (id int PRIMARY KEY)",
                "INSERT INTO annals.neighbour VALUES (1)");

        ChangeLog.at(url).migrate();
        ChangeLog.at(url).migrate();

        List<String> expected = new ArrayList<>(alone());
        expected.set(0, "0 BASELINE");
        assertThat(history(url)).isEqualTo(expected);
        assertThat(TestPostgres.rows(url, "SELECT count(*) FROM annals.changes")).containsExactly("0");
        assertThat(TestPostgres.rows(url, "SELECT id FROM annals.neighbour")).containsExactly("1");
    }
}
