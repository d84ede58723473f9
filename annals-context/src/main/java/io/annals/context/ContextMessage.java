package io.annals.context;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * What a context looks like on the wire: the logical decoding message that
 * {@link ContextDataSource} emits and the capture worker reads.
 *
 * <p>A message is {@code pg_logical_emit_message(true, PREFIX, json)}, where {@code json} is a
 * JSON object, emitted inside the transaction whose rows it describes and before them. The
 * context in force for a row is therefore the last message that precedes it in its transaction.
 *
 * <pre>{@code
 * // capture side, for each decoded message:
 * if (message.transactional() && ContextMessage.isContextPrefix(message.prefix())) {
 *     AnnalsContext context = ContextMessage.parse(message.content());
 *     ...
 * }
 * }</pre>
 */
public final class ContextMessage {

    /** The prefix of the messages Annals itself emits. */
    public static final String PREFIX = "annals";

    /**
     * The prefix used by applications instrumented with Bemi's libraries, whose JSON context
     * messages the capture worker understands too, so that such applications can move over
     * without changing their code first.
     */
    public static final String BEMI_PREFIX = "_bemi";

    /**
     * The default largest context, in bytes of UTF-8 JSON: a context is meant to hold
     * identifiers (user, request, endpoint), not payloads, and each one is written to the WAL.
     */
    public static final int DEFAULT_MAX_BYTES = 64 * 1024;

    /** The system property that overrides {@link #DEFAULT_MAX_BYTES}, e.g. {@code -Dannals.context.maxBytes=262144}. */
    public static final String MAX_BYTES_PROPERTY = "annals.context.maxBytes";

    /** The key under which {@link ContextDataSource#includeSql(boolean)} records the statement text. */
    public static final String SQL_KEY = "sql";

    /** Set to {@code true} next to {@link #SQL_KEY} when the statement text was cut to fit. */
    public static final String SQL_TRUNCATED_KEY = "sql_truncated";

    /** The default longest statement text recorded under {@link #SQL_KEY}, in bytes of UTF-8. */
    public static final int DEFAULT_MAX_SQL_BYTES = 8 * 1024;

    private ContextMessage() {
    }

    /** Whether messages with this prefix carry an application context ({@link #PREFIX} or {@link #BEMI_PREFIX}). */
    public static boolean isContextPrefix(String prefix) {
        return PREFIX.equals(prefix) || BEMI_PREFIX.equals(prefix);
    }

    /**
     * The largest context accepted by {@link AnnalsContext#with}, in bytes of UTF-8 JSON:
     * {@value #MAX_BYTES_PROPERTY} if set, else {@link #DEFAULT_MAX_BYTES}.
     *
     * @throws IllegalStateException if the property is set to something other than a positive integer
     */
    public static int maxBytes() {
        String configured = System.getProperty(MAX_BYTES_PROPERTY);
        if (configured == null || configured.isBlank()) {
            return DEFAULT_MAX_BYTES;
        }
        try {
            int bytes = Integer.parseInt(configured.strip());
            if (bytes > 0) {
                return bytes;
            }
        } catch (NumberFormatException ignored) {
            // Reported below with the same message as a non-positive value.
        }
        throw new IllegalStateException("System property " + MAX_BYTES_PROPERTY + " must be a positive number of bytes, not '"
                + configured + "'");
    }

    /**
     * Decodes a message's content. No size limit applies: what reached the WAL is kept whole.
     *
     * @throws InvalidContextException if the content is not a JSON object
     */
    public static AnnalsContext parse(String content) {
        return ContextJson.parseObject(Objects.requireNonNull(content, "content"));
    }

    /** Decodes a message's content given as the raw bytes of the WAL record (UTF-8). */
    public static AnnalsContext parse(byte[] content) {
        return parse(new String(Objects.requireNonNull(content, "content"), StandardCharsets.UTF_8));
    }
}
