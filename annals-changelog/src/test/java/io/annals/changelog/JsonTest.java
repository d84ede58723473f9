package io.annals.changelog;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Numbers survive the shared mapper digit for digit. */
class JsonTest {

    private static final String ROW = "{\"price\":2.50,\"tiny\":0.0000001,\"big\":123456789012345678901234567890.10}";

    @Test
    void decimalsKeepTheirScaleThroughATree() throws JsonProcessingException {
        JsonNode row = Json.mapper().readTree(ROW);
        assertThat(row.get("price").decimalValue()).isEqualTo(new BigDecimal("2.50"));
        assertThat(Json.mapper().writeValueAsString(row)).isEqualTo(ROW);
    }

    @Test
    void decimalsAreWrittenWithoutAnExponent() throws JsonProcessingException {
        assertThat(Json.mapper().writeValueAsString(Map.of("n", new BigDecimal("1E+3")))).isEqualTo("{\"n\":1000}");
        assertThat(Json.mapper().writeValueAsString(Json.mapper().readTree("1e3"))).isEqualTo("1000");
    }

    @Test
    void anApplicationsMapperReadsExactlyThroughExactWithoutBeingChanged() throws JsonProcessingException {
        ObjectMapper applications = new ObjectMapper();
        assertThat(Json.exact(applications.reader()).readTree(ROW).get("price").decimalValue())
                .isEqualTo(new BigDecimal("2.50"));
        assertThat(applications.readTree(ROW).get("price").isDouble()).as("the mapper itself").isTrue();
    }
}
