/**
 * The capture worker. Only {@code io.annals.capture} is API: the pgoutput decoder
 * ({@code io.annals.capture.pgoutput}) and the value conversion ({@code io.annals.capture.value})
 * are internals.
 */
@SuppressWarnings({"requires-automatic", "requires-transitive-automatic"})
module io.annals.capture {
    requires transitive io.annals.changelog;
    requires io.annals.context;
    requires transitive micrometer.core;
    requires org.postgresql.jdbc;
    requires com.fasterxml.jackson.databind;
    requires org.slf4j;

    exports io.annals.capture;
}
