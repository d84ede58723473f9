package io.annals.changelog;

import com.fasterxml.jackson.core.StreamWriteFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;

/**
 * JSON with numbers kept exactly as the change log stores them: a decimal is read as a
 * {@code BigDecimal} with its scale ({@code 2.50} stays {@code 2.50}, not {@code 2.5} or a
 * double) and written in plain notation ({@code 1000}, never {@code 1E+3}). A numeric column
 * that goes from 2.5 to 2.50 has changed, and whatever Annals compares, shows or writes back
 * must say so.
 *
 * <pre>{@code
 * JsonNode row = Json.mapper().readTree("{\"price\": 2.50, \"qty\": 1000}");
 * Json.mapper().writeValueAsString(row);        // {"price":2.50,"qty":1000}
 * }</pre>
 */
public final class Json {

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
            .enable(StreamWriteFeature.WRITE_BIGDECIMAL_AS_PLAIN)
            .build();

    private Json() {
    }

    /**
     * The shared exact mapper. It is shared, so never configure it: derive a reader or writer
     * ({@code mapper().reader().with(...)}), or {@code copy()} it.
     */
    public static ObjectMapper mapper() {
        return MAPPER;
    }

    /**
     * {@code reader} reading numbers exactly, as {@link #mapper()} does, for a mapper that is not
     * ours (one an application passes in) but whose trees must keep every digit.
     *
     * <pre>{@code
     * JsonNode image = Json.exact(applicationMapper.reader()).readTree(text);
     * }</pre>
     */
    public static ObjectReader exact(ObjectReader reader) {
        return reader.with(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                .without(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES);
    }
}
