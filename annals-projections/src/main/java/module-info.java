/**
 * Denormalized read models kept true to their canonical sources, on the change feed.
 *
 * <p>Flyway has no module name (see {@code io.annals.changelog}'s descriptor): it stays on the
 * class path and this module reads it through {@code --add-reads io.annals.projections=ALL-UNNAMED}.
 */
@SuppressWarnings("requires-automatic")
module io.annals.projections {
    requires transitive io.annals.changelog;
    requires org.postgresql.jdbc;
    requires java.naming; // PGSimpleDataSource is Referenceable; pgjdbc, an automatic module, cannot say so
    requires org.slf4j;
    requires transitive io.annals.events; // event sources: EventMapper and Projections.Builder.eventStore name its types
    requires io.annals.context;

    exports io.annals.projections;

    uses io.annals.projections.ProjectionProvider;

    opens io.annals.projections.migration;
}
