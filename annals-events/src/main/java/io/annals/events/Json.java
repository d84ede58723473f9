package io.annals.events;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.util.function.Supplier;

/** The JSON plumbing of the event store: validation of raw JSON and the default mapper. */
final class Json {

    /**
     * Strict by default because nothing may be silently dropped: a property the class does not
     * know, or one it needs but the JSON lacks, is an error (upcasters bridge old shapes).
     */
    static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .build();

    private Json() {
    }

    /** Checks that {@code json} is one well-formed JSON value (an object if {@code object}), with a streaming parser. */
    static void requireValid(String json, boolean object, Supplier<String> what) {
        try (JsonParser p = MAPPER.getFactory().createParser(json)) {
            JsonToken first = p.nextToken();
            if (first == null) {
                throw new IllegalArgumentException(what.get() + " is empty; it must be JSON" + (object ? " object" : "")
                        + ", e.g. {}");
            }
            if (object && first != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException(what.get() + " must be a JSON object, e.g. {\"user_id\":42}, not " + abbreviate(json));
            }
            p.skipChildren();
            if (p.nextToken() != null) {
                throw new IllegalArgumentException(what.get() + " has text after its JSON value: " + abbreviate(json));
            }
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(what.get() + " is not valid JSON (" + e.getOriginalMessage() + "): " + abbreviate(json), e);
        } catch (IOException e) {
            throw new IllegalStateException("Reading a string cannot fail: " + e.getMessage(), e);
        }
    }

    static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }
}
