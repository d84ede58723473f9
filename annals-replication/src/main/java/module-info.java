/**
 * CQRS replication over RabbitMQ, wire-compatible with django-cqrs 3.x: a master that publishes
 * from the change feed, replicas that apply to PostgreSQL or MariaDB, and the wire format they share.
 *
 * <p>Flyway has no module name, so, as in {@code io.annals.changelog}, it stays on the class path
 * and this module reads it through {@code --add-reads io.annals.replication=ALL-UNNAMED}.
 */
@SuppressWarnings({"requires-automatic", "requires-transitive-automatic"})
module io.annals.replication {
    requires transitive java.sql;
    requires transitive io.annals.changelog;
    requires transitive com.fasterxml.jackson.databind;
    requires transitive com.rabbitmq.client;
    requires org.postgresql.jdbc;
    requires java.naming; // PGSimpleDataSource is Referenceable; pgjdbc, an automatic module, cannot say so
    requires org.slf4j;

    exports io.annals.replication;
    exports io.annals.replication.wire;

    // The Flyway migrations (resources), for Flyway on the class path; see io.annals.changelog.
    opens io.annals.replication.migration;
}
