/** Reading the change log: audit trail, as-of, diffs, retention and reverts. */
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
    // io.annals.history.internal is shared by the packages above and is not API.
}
