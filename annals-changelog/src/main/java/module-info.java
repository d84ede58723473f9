/**
 * The change log and change feeds.
 *
 * <p>Flyway has no module name (neither a descriptor nor {@code Automatic-Module-Name}; see
 * flyway/flyway#3788), so it is not required here: a {@code requires flyway.core} would bake a
 * name derived from a jar's file name into this descriptor. Flyway stays on the class path and
 * this module reads it through {@code --add-reads io.annals.changelog=ALL-UNNAMED} (set in this
 * module's pom; on the module path an application passes the same option to {@code java}).
 */
@SuppressWarnings({"requires-automatic", "requires-transitive-automatic"})
module io.annals.changelog {
    requires transitive java.sql;
    requires transitive com.fasterxml.jackson.databind;
    requires transitive micrometer.core;
    requires org.postgresql.jdbc;
    requires java.naming; // PGSimpleDataSource is Referenceable; pgjdbc, an automatic module, cannot say so
    requires org.slf4j;

    exports io.annals.changelog;
    exports io.annals.changelog.feed;

    // The Flyway migrations are resources; on the module path their folders are packages of this
    // module, which Flyway (on the class path) can read only if they are open.
    opens io.annals.changelog.migration;
    opens io.annals.changelog.feed.migration;
}
