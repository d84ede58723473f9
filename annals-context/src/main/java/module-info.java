/**
 * Application side of Annals: the scoped context and the {@code DataSource} wrapper that emits it.
 * The servlet filter is optional: {@code jakarta.servlet} is needed only by applications that use it.
 */
module io.annals.context {
    requires transitive java.sql;
    requires static jakarta.servlet; // only for AnnalsContextFilter; provided by the container
    requires com.fasterxml.jackson.databind;

    exports io.annals.context;
}
