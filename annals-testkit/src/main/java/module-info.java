/** One embedded PostgreSQL per test JVM, a fresh database per test. */
module io.annals.testkit {
    requires transitive java.sql;
    requires transitive io.annals.embedded;

    exports io.annals.testkit;
}
