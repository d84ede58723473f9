package io.annals.capture;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.annals.capture.source.SourceSetup;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The warning that new tables are missed until the worker adds them is true only of a publication
 * that lists its tables one by one; a schema-scoped one takes new tables at once and must not
 * cry wolf at every start.
 */
class PublicationWarningTest extends CaptureTestSupport {

    private final Logger logger = (Logger) LoggerFactory.getLogger(SourceSetup.class);
    private final ListAppender<ILoggingEvent> events = new ListAppender<>();
    private String role;
    private String roleDatabase;

    @BeforeEach
    void listen() {
        events.start();
        logger.addAppender(events);
    }

    @AfterEach
    void stopListeningAndDropRole() {
        logger.detachAppender(events);
        if (role != null) {
            sql(roleDatabase, "DROP OWNED BY " + role);
            sql(roleDatabase.replace("/" + databaseName(roleDatabase) + "?", "/postgres?"), "DROP ROLE " + role);
        }
    }

    private List<String> publicationWarnings() {
        return events.list.stream()
                .filter(e -> e.getLevel() == Level.WARN && e.getFormattedMessage().contains("Publication"))
                .map(ILoggingEvent::getFormattedMessage)
                .toList();
    }

    @Test
    void schemaScopedPublicationTakesNewTablesAtOnceAndDoesNotWarn() {
        String url = newDatabase("pubwarn_schema");
        sql(url, "CREATE TABLE t (id int PRIMARY KEY)");
        try (CaptureWorker worker = start(url)) {
            sql(url, "CREATE TABLE later (id int PRIMARY KEY)", "INSERT INTO later VALUES (1)");
            worker.awaitCaughtUp(CATCH_UP);
        }
        assertThat(scalar(url, "SELECT count(*) FROM pg_publication_namespace")).as("schema-scoped").isEqualTo("1");
        assertThat(streamedChangesOf(url, "later")).as("a table created after the start").hasSize(1);
        assertThat(publicationWarnings()).isEmpty();
        // A second start, with the publication already there, stays quiet too.
        try (CaptureWorker worker = start(url)) {
            worker.awaitCaughtUp(CATCH_UP);
        }
        assertThat(publicationWarnings()).isEmpty();
    }

    /** Without superuser, --include makes the worker list the tables; the warning says so and is true. */
    @Test
    void tableListPublicationWarnsAndMissesNewTablesUntilTheNextStart() {
        String url = newDatabase("pubwarn_list");
        role = "pubwarn_" + databaseName(url);
        roleDatabase = url;
        sql(url, "CREATE ROLE " + role + " LOGIN REPLICATION",
                "GRANT CREATE ON DATABASE \"" + databaseName(url) + "\" TO " + role);
        String asRole = url.replace("user=postgres", "user=" + role);
        sql(asRole, "CREATE SCHEMA app", "CREATE TABLE app.t (id int PRIMARY KEY)");

        try (CaptureWorker worker = start(options(asRole).include(List.of("app.*")))) {
            sql(asRole, "CREATE TABLE app.later (id int PRIMARY KEY)", "INSERT INTO app.later VALUES (1)");
            worker.awaitCaughtUp(CATCH_UP);
        }
        assertThat(publicationWarnings()).singleElement().asString()
                .contains("Publication annals lists its tables one by one", "(matching --include app.*)",
                        "restart the worker", "ALTER PUBLICATION \"annals\" ADD TABLE <schema.table>;",
                        "DROP PUBLICATION \"annals\";", "as a superuser");
        assertThat(changes(url, "\"table\" = 'later'")).as("missed, as the warning says").isEmpty();

        try (CaptureWorker worker = start(options(asRole).include(List.of("app.*")))) {
            sql(asRole, "INSERT INTO app.later VALUES (2)");
            worker.awaitCaughtUp(CATCH_UP);
        }
        assertThat(changes(url, "\"table\" = 'later' AND operation = 'CREATE'"))
                .as("added at the next start, as the warning says").extracting(c -> c.after().get("id").asInt())
                .containsExactly(2);
        assertThat(publicationWarnings()).as("still true at every start").hasSize(2);
    }
}
