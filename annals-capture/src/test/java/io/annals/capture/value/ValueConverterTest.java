package io.annals.capture.value;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Plain unit checks that need no database: string escaping, the number test, malformed input and
 * the offset handling of zones that the UTC capture session never produces. Everything about
 * matching {@code to_jsonb} is checked against the database in {@link ValueConverterOracleTest}.
 */
class ValueConverterTest {

    private final ValueConverter converter = new ValueConverter(PgTypes.builtinsOnly());

    @Test
    void jsonStringsEscapeWhatJsonRequires() throws Exception {
        StringBuilder sb = new StringBuilder();
        String all = "plain \" \\ / \b \f \n \r \t \u0000 \u0001 \u001f \u007f é 😀 \u2028";
        ValueConverter.appendJsonString(sb, all);
        assertThat(sb).hasToString("\"plain \\\" \\\\ / \\b \\f \\n \\r \\t \\u0000 \\u0001 \\u001f \u007f é 😀 \u2028\"");
        assertThat(new ObjectMapper().readValue(sb.toString(), String.class)).isEqualTo(all);

        sb.setLength(0);
        ValueConverter.appendJsonString(sb, "xx\"yy", 1, 4);
        assertThat(sb).hasToString("\"x\\\"y\"");
    }

    @Test
    void jsonNumbersAreRecognisedLikePostgres() {
        for (String ok : List.of("0", "-0", "1", "-1", "12.5", "0.001", "1e5", "1E+5", "1.5e-300", "-9223372036854775808")) {
            assertThat(ValueConverter.isJsonNumber(ok, 0, ok.length())).as(ok).isTrue();
        }
        for (String bad : List.of("", "-", "NaN", "Infinity", "-Infinity", "01", "1.", ".5", "1e", "1e+", "+1", "1 ", "0x1")) {
            assertThat(ValueConverter.isJsonNumber(bad, 0, bad.length())).as(bad).isFalse();
        }
    }

    @Test
    void scalarFastPaths() {
        assertThat(converter.toJson(16, "t")).isEqualTo("true");
        assertThat(converter.toJson(16, "f")).isEqualTo("false");
        assertThat(converter.toJson(23, "-42")).isEqualTo("-42");
        assertThat(converter.toJson(701, "1.5e+300")).isEqualTo("1.5e+300");
        assertThat(converter.toJson(701, "-Infinity")).isEqualTo("\"-Infinity\"");
        assertThat(converter.toJson(1700, "NaN")).isEqualTo("\"NaN\"");
        assertThat(converter.toJson(3802, "{\"a\": [1, 2]}")).isEqualTo("{\"a\": [1, 2]}");
        assertThat(converter.toJson(25, null)).isEqualTo("null");
        assertThat(converter.toJson(1082, "0044-03-15 BC")).isEqualTo("\"0044-03-15 BC\"");
    }

    @Test
    void timestampsGetTheXsdForm() {
        assertThat(converter.toJson(1114, "2024-01-02 03:04:05.123456")).isEqualTo("\"2024-01-02T03:04:05.123456\"");
        assertThat(converter.toJson(1114, "0044-03-15 12:00:00 BC")).isEqualTo("\"0044-03-15T12:00:00 BC\"");
        assertThat(converter.toJson(1114, "infinity")).isEqualTo("\"infinity\"");
        assertThat(converter.toJson(1184, "2024-01-02 03:04:05+00")).isEqualTo("\"2024-01-02T03:04:05+00:00\"");
        assertThat(converter.toJson(1184, "2024-01-02 03:04:05.5-03:30")).isEqualTo("\"2024-01-02T03:04:05.5-03:30\"");
        assertThat(converter.toJson(1184, "1900-01-01 10:00:00+05:21:10")).isEqualTo("\"1900-01-01T10:00:00+05:21:10\"");
        assertThat(converter.toJson(1184, "0044-03-15 07:04:56+00 BC")).isEqualTo("\"0044-03-15T07:04:56+00:00 BC\"");
        assertThat(converter.toJson(1184, "-infinity")).isEqualTo("\"-infinity\"");
        assertThat(converter.toJson(1184, "10000-01-01 00:00:00-12")).isEqualTo("\"10000-01-01T00:00:00-12:00\"");
    }

    @Test
    void arraysAndVectors() {
        assertThat(converter.toJson(1007, "{}")).isEqualTo("[]");
        assertThat(converter.toJson(1007, "[0:1]={1,NULL}")).isEqualTo("[1,null]");
        assertThat(converter.toJson(1009, "{\"a \\\"b\\\\\",NULL,\"NULL\",null}")).isEqualTo("[\"a \\\"b\\\\\",null,\"NULL\",null]");
        assertThat(converter.toJson(1020, "{(1,1),(0,0);(2,2),(1,1)}")).isEqualTo("[\"(1,1),(0,0)\",\"(2,2),(1,1)\"]");
        assertThat(converter.toJson(22, "1 2 3")).isEqualTo("[1,2,3]");
        assertThat(converter.toJson(22, "")).isEqualTo("[]");
        assertThat(converter.toJson(30, "4 5")).isEqualTo("[\"4\",\"5\"]");
        assertThat(converter.toJson(1006, "{\"1 2\",3}")).isEqualTo("[[1,2],[3]]");
    }

    @Test
    void malformedTextIsRejected() {
        assertThatThrownBy(() -> converter.toJson(1007, "{1,2")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("_int4");
        assertThatThrownBy(() -> converter.toJson(1009, "{\"open}")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> converter.toJson(1007, "[0:1]")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> converter.toJson(1007, "[0:1]=1")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void compositesAreParsedWithTheirAttributes() {
        PgType pair = new PgType(90001, "pair", PgType.Kind.COMPOSITE, 0, 0, ',',
                List.of(new PgType.Attribute("k", 25), new PgType.Attribute("n", 23), new PgType.Attribute("a\"b", 1009)),
                false);
        PgTypes types = PgTypes.builtinsOnly();
        types.put(pair);
        ValueConverter withPair = new ValueConverter(types);
        assertThat(withPair.toJson(90001, "(\"x \"\"y\"\" \\\\z\",,\"{a,\"\"b c\"\"}\")"))
                .isEqualTo("{\"k\":\"x \\\"y\\\" \\\\z\",\"n\":null,\"a\\\"b\":[\"a\",\"b c\"]}");
        assertThat(withPair.toJson(90001, "(\"\",1,{})")).isEqualTo("{\"k\":\"\",\"n\":1,\"a\\\"b\":[]}");
        assertThat(withPair.toJson(90001, "(,,)")).isEqualTo("{\"k\":null,\"n\":null,\"a\\\"b\":null}");
        assertThatThrownBy(() -> withPair.toJson(90001, "(a,1)")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("schema changed");
        assertThatThrownBy(() -> withPair.toJson(90001, "(a,1,{},x)")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> withPair.toJson(90001, "(\"a,1,{})")).isInstanceOf(IllegalArgumentException.class);
    }
}
