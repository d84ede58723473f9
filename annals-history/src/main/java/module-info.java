/**
 * Reading the change log: audit trail, as-of, diffs, keyframes, retention and reverts.
 *
 * <p>Flyway has no module name (see {@code io.annals.changelog}'s descriptor): it stays on the
 * class path and this module reads it through {@code --add-reads io.annals.history=ALL-UNNAMED}.
 */
@SuppressWarnings("requires-automatic")
module io.annals.history {
    requires transitive io.annals.changelog;
    requires io.annals.context;
    requires transitive com.fasterxml.jackson.databind;
    requires org.postgresql.jdbc;
    requires java.naming; // PGSimpleDataSource is Referenceable; pgjdbc, an automatic module, cannot say so

    exports io.annals.history;
    exports io.annals.history.timetravel;
    exports io.annals.history.revert;
    exports io.annals.history.retention;
    exports io.annals.history.keyframes;
    // The keyframes' Flyway migrations are resources; Flyway (class path) reads them only if open.
    opens io.annals.history.keyframes.migration;
    // io.annals.history.internal is shared by the packages above and is not API.
}
