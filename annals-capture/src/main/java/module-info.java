/**
 * The capture worker. Only {@code io.annals.capture} is API; its other packages are internals:
 * the source's set-up ({@code source}), the initial snapshot ({@code snapshot}), assembling changes
 * from the stream ({@code assembly}), the reader, writer and monitor threads ({@code pipeline}),
 * the pgoutput decoder ({@code pgoutput}) and the value conversion ({@code value}).
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
