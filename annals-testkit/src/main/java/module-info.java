/** One embedded PostgreSQL per test JVM, a fresh database per test. */
module io.annals.testkit {
    requires transitive java.sql;
    requires transitive io.annals.embedded;
    requires org.junit.jupiter.api; // Services skips a test through Assumptions

    exports io.annals.testkit;
}
