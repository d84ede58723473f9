/** Reading the change log: audit trail, as-of, diffs, retention and reverts. */
@SuppressWarnings("requires-automatic")
module io.annals.history {
    requires transitive io.annals.changelog;
    requires io.annals.context;
    requires transitive com.fasterxml.jackson.databind;
    requires org.postgresql.jdbc;
    requires java.naming; // PGSimpleDataSource is Referenceable; pgjdbc, an automatic module, cannot say so

    exports io.annals.history;
}
