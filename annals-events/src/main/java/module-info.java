/**
 * The event store, its subscriptions and aggregates.
 *
 * <p>Flyway has no module name, so, as in {@code io.annals.changelog}, it stays on the class path
 * and this module reads it through {@code --add-reads io.annals.events=ALL-UNNAMED}.
 */
@SuppressWarnings("requires-automatic")
module io.annals.events {
    requires transitive java.sql;
    requires io.annals.changelog;
    requires io.annals.context;
    requires transitive com.fasterxml.jackson.databind;
    requires com.zaxxer.hikari;
    requires org.postgresql.jdbc;
    requires org.slf4j;

    exports io.annals.events;
    exports io.annals.events.subscription;
    exports io.annals.events.aggregate;

    // The Flyway migrations (resources), for Flyway on the class path; see io.annals.changelog.
    opens io.annals.events.migration;
}
