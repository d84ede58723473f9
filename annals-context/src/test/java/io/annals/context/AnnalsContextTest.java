package io.annals.context;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

// Scopes are held only to be closed; Java 21 has no unnamed variables to say so.
@SuppressWarnings("try")
class AnnalsContextTest {

    @AfterEach
    void noContextLeaks() {
        assertThat(AnnalsContext.current().isEmpty()).isTrue();
    }

    @Test
    void bindsForTheScopeAndRestoresAfterwards() {
        assertThat(AnnalsContext.current()).isEqualTo(AnnalsContext.empty());
        try (var scope = AnnalsContext.with(Map.of("user_id", 42, "endpoint", "/todo"))) {
            assertThat(AnnalsContext.current().asMap()).containsExactly(Map.entry("endpoint", "/todo"), Map.entry("user_id", 42));
            assertThat(AnnalsContext.current().toJson()).isEqualTo("{\"endpoint\":\"/todo\",\"user_id\":42}");
            assertThat(scope.context()).isEqualTo(AnnalsContext.current());
        }
        assertThat(AnnalsContext.current().isEmpty()).isTrue();
        assertThat(AnnalsContext.current().toJson()).isEqualTo("{}");
    }

    @Test
    void nestedScopesMergeWithInnerKeysWinning() {
        try (var outer = AnnalsContext.with(Map.of("user_id", 1, "endpoint", "/todo"))) {
            try (var inner = AnnalsContext.with(Map.of("user_id", 2, "job", "reindex"))) {
                assertThat(AnnalsContext.current().toJson()).isEqualTo("{\"endpoint\":\"/todo\",\"user_id\":2,\"job\":\"reindex\"}");
            }
            assertThat(AnnalsContext.current().toJson()).isEqualTo("{\"endpoint\":\"/todo\",\"user_id\":1}");
        }
    }

    @Test
    void closingOutOfOrderIsDetectedAndLeavesTheThreadClean() {
        var outer = AnnalsContext.with(Map.of("a", 1));
        var inner = AnnalsContext.with(Map.of("b", 2));
        assertThatThrownBy(outer::close)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("out of order")
                .hasMessageContaining("1 scope(s)");
        assertThat(AnnalsContext.current().isEmpty()).isTrue();
        inner.close(); // already closed along with its outer scope
        assertThat(AnnalsContext.current().isEmpty()).isTrue();
    }

    @Test
    void closingOnAnotherThreadIsRefusedAndChangesNothing() throws Exception {
        try (var scope = AnnalsContext.with(Map.of("a", 1))) {
            CompletableFuture<Throwable> failure = new CompletableFuture<>();
            Thread other = new Thread(() -> {
                try {
                    scope.close();
                    failure.complete(null);
                } catch (Throwable t) {
                    failure.complete(t);
                }
            });
            other.start();
            other.join();
            assertThat(failure.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("thread");
            assertThat(AnnalsContext.current().asMap()).containsEntry("a", 1);
        }
    }

    @Test
    void closingTwiceDoesNothing() {
        try (var outer = AnnalsContext.with(Map.of("a", 1))) {
            var inner = AnnalsContext.with(Map.of("b", 2));
            inner.close();
            inner.close();
            assertThat(AnnalsContext.current().asMap()).containsOnlyKeys("a");
        }
    }

    @Test
    void snapshotsAreDeeplyImmutable() {
        List<Object> tags = new ArrayList<>(List.of("x"));
        Map<String, Object> values = new HashMap<>();
        values.put("tags", tags);
        values.put("nested", Map.of("k", List.of(1, 2)));
        values.put("nothing", null);
        AnnalsContext context = AnnalsContext.of(values);
        tags.add("y");
        values.put("later", true);

        assertThat(context.asMap()).containsOnlyKeys("nested", "nothing", "tags");
        assertThat(context.asMap().get("tags")).isEqualTo(List.of("x"));
        assertThat(context.toJson()).isEqualTo("{\"nested\":{\"k\":[1,2]},\"nothing\":null,\"tags\":[\"x\"]}");
        assertThatThrownBy(() -> context.asMap().put("x", 1)).isInstanceOf(UnsupportedOperationException.class);
        @SuppressWarnings("unchecked")
        List<Object> seenTags = (List<Object>) context.asMap().get("tags");
        assertThatThrownBy(() -> seenTags.add("z")).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void keepsTheOrderOfOrderedMapsAndSortsOthers() {
        Map<String, Object> ordered = new LinkedHashMap<>();
        ordered.put("z", 1);
        ordered.put("a", 2);
        assertThat(AnnalsContext.of(ordered).toJson()).isEqualTo("{\"z\":1,\"a\":2}");
        assertThat(AnnalsContext.of(Map.of("z", 1, "a", 2)).toJson()).isEqualTo("{\"a\":2,\"z\":1}");
        assertThat(AnnalsContext.of(ordered)).isEqualTo(AnnalsContext.of(Map.of("z", 1, "a", 2)));
    }

    @Test
    void simpleBeansAreWrittenAsJson() {
        record User(long id, String name) {
        }
        AnnalsContext context = AnnalsContext.of(Map.of("user", new User(7, "ada")));
        assertThat(context.toJson()).isEqualTo("{\"user\":{\"id\":7,\"name\":\"ada\"}}");
        assertThat(context.asMap().get("user")).isEqualTo(Map.of("id", 7, "name", "ada"));
        assertThat(ContextMessage.parse(context.toJson())).as("reads back equal").isEqualTo(context);
    }

    @Test
    void timesAreWrittenAsIsoText() {
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("at", java.time.Instant.parse("2025-01-02T03:04:05Z"));
        values.put("on", java.time.LocalDate.of(2025, 1, 2));
        values.put("took", java.time.Duration.ofSeconds(90));
        values.put("zone", java.time.ZoneId.of("Europe/Paris"));
        assertThat(AnnalsContext.of(values).toJson()).isEqualTo(
                "{\"at\":\"2025-01-02T03:04:05Z\",\"on\":\"2025-01-02\",\"took\":\"PT1M30S\",\"zone\":\"Europe/Paris\"}");
    }

    @Test
    void rejectsANullKey() {
        Map<String, Object> values = new HashMap<>();
        values.put(null, 1);
        assertThatThrownBy(() -> AnnalsContext.with(values))
                .isInstanceOf(InvalidContextException.class)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("null key");
    }

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void rejectsANonStringKey() {
        Map raw = new HashMap();
        raw.put(1, "one");
        assertThatThrownBy(() -> AnnalsContext.of(raw))
                .isInstanceOf(InvalidContextException.class)
                .hasMessageContaining("java.lang.Integer");
    }

    @Test
    void rejectsValuesJacksonCannotWrite() {
        assertThatThrownBy(() -> AnnalsContext.with(Map.of("user", new Object())))
                .isInstanceOf(InvalidContextException.class)
                .hasMessageContaining("\"user\"")
                .hasMessageContaining("java.lang.Object")
                .hasCauseInstanceOf(com.fasterxml.jackson.core.JsonProcessingException.class);
        record Owner(Object pet) {
        }
        assertThatThrownBy(() -> AnnalsContext.with(Map.of("owner", new Owner(new Object()))))
                .isInstanceOf(InvalidContextException.class)
                .hasMessageContaining("at owner.pet")
                .hasMessageNotContaining("SingletonMap");
        assertThatThrownBy(() -> AnnalsContext.with(Map.of("maybe", Optional.of(1))))
                .isInstanceOf(InvalidContextException.class)
                .hasMessageContaining("\"maybe\"");
        Map<String, Object> cycle = new HashMap<>();
        cycle.put("self", cycle);
        assertThatThrownBy(() -> AnnalsContext.with(cycle)).isInstanceOf(InvalidContextException.class);
    }

    @Test
    void numbersKeepTheirDigitsAndReadBackAsPlainJavaNumbers() {
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("small", 7L);
        values.put("large", 1L << 40);
        values.put("huge", new java.math.BigInteger("123456789012345678901234567890"));
        values.put("half", 0.5f);
        values.put("money", new java.math.BigDecimal("12345678901234567890.12"));
        AnnalsContext context = AnnalsContext.of(values);
        assertThat(context.toJson())
                .isEqualTo("{\"small\":7,\"large\":1099511627776,\"huge\":123456789012345678901234567890,\"half\":0.5,"
                        + "\"money\":12345678901234567890.12}");
        assertThat(context.asMap()).containsExactly(Map.entry("small", 7), Map.entry("large", 1L << 40),
                Map.entry("huge", new java.math.BigInteger("123456789012345678901234567890")), Map.entry("half", 0.5),
                Map.entry("money", new java.math.BigDecimal("12345678901234567890.12")));
        assertThat(ContextMessage.parse(context.toJson())).isEqualTo(context);
    }

    @Test
    void commonScalarsGiveTheValuesTheRecordedJsonReadsBackAs() {
        Map<String, Object> values = new java.util.LinkedHashMap<>();
        values.put("text", "a \"quoted\" \\ text");
        values.put("yes", true);
        values.put("none", null);
        values.put("int", -3);
        values.put("long_small", 5L);
        values.put("long_large", Long.MIN_VALUE);
        AnnalsContext context = AnnalsContext.of(values);
        assertThat(context.toJson()).isEqualTo("{\"text\":\"a \\\"quoted\\\" \\\\ text\",\"yes\":true,\"none\":null,"
                + "\"int\":-3,\"long_small\":5,\"long_large\":-9223372036854775808}");
        assertThat(context.asMap()).containsEntry("long_small", 5).containsEntry("long_large", Long.MIN_VALUE).containsEntry("none", null);
        AnnalsContext read = ContextMessage.parse(context.toJson());
        assertThat(read).isEqualTo(context);
        assertThat(read.asMap()).isEqualTo(context.asMap());
    }

    @Test
    void deepButReasonableNestingIsFine() {
        Object value = "leaf";
        for (int i = 0; i < 99; i++) { // with the context object: 100 levels
            value = List.of(value);
        }
        assertThat(AnnalsContext.of(Map.of("deep", value)).toJson()).endsWith("\"leaf\"" + "]".repeat(99) + "}");
        Object tooDeep = List.of(value);
        assertThatThrownBy(() -> AnnalsContext.of(Map.of("deep", tooDeep))).isInstanceOf(InvalidContextException.class);
    }

    @Test
    void rejectsAnOversizedContextSayingHowBigAndHowToChangeTheLimit() {
        String big = "x".repeat(70_000);
        assertThatThrownBy(() -> AnnalsContext.with(Map.of("payload", big)))
                .isInstanceOf(InvalidContextException.class)
                .hasMessageContaining("70,014 bytes")
                .hasMessageContaining("65,536 bytes")
                .hasMessageContaining("-Dannals.context.maxBytes=");
    }

    @Test
    void rejectsAMergeThatGrowsTooBig() {
        String half = "x".repeat(40_000);
        try (var outer = AnnalsContext.with(Map.of("a", half))) {
            assertThatThrownBy(() -> AnnalsContext.with(Map.of("b", half)))
                    .isInstanceOf(InvalidContextException.class)
                    .hasMessageContaining("merged with the enclosing context");
            assertThat(AnnalsContext.current()).isEqualTo(outer.context());
        }
    }

    @Test
    void theLimitCanBeRaisedWithASystemProperty() {
        String big = "x".repeat(70_000);
        System.setProperty(ContextMessage.MAX_BYTES_PROPERTY, "100000");
        try {
            assertThat(AnnalsContext.of(Map.of("payload", big)).sizeInBytes()).isEqualTo(70_014);
            System.setProperty(ContextMessage.MAX_BYTES_PROPERTY, "lots");
            assertThatThrownBy(ContextMessage::maxBytes).isInstanceOf(IllegalStateException.class).hasMessageContaining("lots");
        } finally {
            System.clearProperty(ContextMessage.MAX_BYTES_PROPERTY);
        }
    }

    @Test
    void runsAndCallsTasksUnderAContext() throws Exception {
        AnnalsContext job = AnnalsContext.of(Map.of("job", "import"));
        List<AnnalsContext> seen = new ArrayList<>();
        job.run(() -> seen.add(AnnalsContext.current()));
        assertThat(job.call(AnnalsContext::current)).isEqualTo(job);
        assertThat(seen).containsExactly(job);
        assertThat(AnnalsContext.current().isEmpty()).isTrue();
    }

    @Test
    void aCapturedContextCanBeBoundOnAnotherThread() throws Exception {
        ExecutorService executor = Executors.newSingleThreadExecutor();
        try (var scope = AnnalsContext.with(Map.of("user_id", 3))) {
            AnnalsContext captured = AnnalsContext.current();
            assertThat(executor.submit(AnnalsContext::current).get().isEmpty()).as("not inherited by itself").isTrue();
            assertThat(executor.submit(captured.wrap(AnnalsContext::current)).get()).isEqualTo(captured);
            assertThat(executor.submit(() -> {
                try (var there = captured.bind()) {
                    return AnnalsContext.current();
                }
            }).get()).isEqualTo(captured);
            assertThat(executor.submit(AnnalsContext::current).get().isEmpty()).isTrue();
        } finally {
            executor.shutdown();
        }
    }

    @Test
    void aSnapshotDoesNotChangeWhenScopesCloseLater() {
        AnnalsContext snapshot;
        try (var scope = AnnalsContext.with(Map.of("a", 1))) {
            snapshot = AnnalsContext.current();
        }
        assertThat(snapshot.asMap()).containsEntry("a", 1);
        assertThat(snapshot.toString()).isEqualTo("AnnalsContext{\"a\":1}");
    }

    @Test
    void messagesAreParsedBack() {
        assertThat(ContextMessage.isContextPrefix(ContextMessage.PREFIX)).isTrue();
        assertThat(ContextMessage.isContextPrefix(ContextMessage.BEMI_PREFIX)).isTrue();
        assertThat(ContextMessage.isContextPrefix("other")).isFalse();
        AnnalsContext parsed = ContextMessage.parse("{\"user_id\":42,\"tags\":[\"a\"]}");
        assertThat(parsed.asMap()).containsEntry("user_id", 42).containsEntry("tags", List.of("a"));
        assertThat(ContextMessage.parse("{}".getBytes(java.nio.charset.StandardCharsets.UTF_8)).isEmpty()).isTrue();
        assertThatThrownBy(() -> ContextMessage.parse("[1]")).isInstanceOf(InvalidContextException.class);
        assertThatThrownBy(() -> ContextMessage.parse("{")).isInstanceOf(InvalidContextException.class);
    }
}
