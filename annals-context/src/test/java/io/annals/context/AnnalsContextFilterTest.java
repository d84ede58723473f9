package io.annals.context;

import io.annals.testkit.TestPostgres;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.Statement;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

// Scopes are held only to be closed; Java 21 has no unnamed variables to say so.
@SuppressWarnings("try")
class AnnalsContextFilterTest {

    @AfterEach
    void noContextLeaks() {
        assertThat(AnnalsContext.current().isEmpty()).isTrue();
    }

    @Test
    void bindsTheApplicationsContextForTheRequestOnly() throws Exception {
        var filter = new AnnalsContextFilter(request -> Map.of("user_id", 42, "endpoint", request.getRequestURI()));
        AtomicReference<AnnalsContext> seen = new AtomicReference<>();
        filter.doFilter(request("POST", "/todo", Map.of()), response(), (req, res) -> seen.set(AnnalsContext.current()));
        assertThat(seen.get().toJson()).isEqualTo("{\"endpoint\":\"/todo\",\"user_id\":42}");
    }

    @Test
    void clearsTheContextEvenWhenTheRequestFails() {
        var filter = AnnalsContextFilter.requestDefaults();
        FilterChain failing = (req, res) -> {
            assertThat(AnnalsContext.current().isEmpty()).isFalse();
            throw new ServletException("boom");
        };
        assertThatThrownBy(() -> filter.doFilter(request("GET", "/todo", Map.of()), response(), failing))
                .isInstanceOf(ServletException.class)
                .hasMessage("boom");
    }

    @Test
    void recordsMethodEndpointAndTheCallersRequestId() throws Exception {
        AtomicReference<AnnalsContext> seen = new AtomicReference<>();
        AnnalsContextFilter.requestDefaults().doFilter(
                request("DELETE", "/todo/7", Map.of(AnnalsContextFilter.REQUEST_ID_HEADER, "req-1")), response(),
                (req, res) -> seen.set(AnnalsContext.current()));
        assertThat(seen.get().toJson()).isEqualTo("{\"method\":\"DELETE\",\"endpoint\":\"/todo/7\",\"request_id\":\"req-1\"}");
    }

    @Test
    void makesUpARequestIdWhenTheCallerSentNone() throws Exception {
        AtomicReference<AnnalsContext> seen = new AtomicReference<>();
        AnnalsContextFilter.requestDefaults().doFilter(request("GET", "/", Map.of()), response(),
                (req, res) -> seen.set(AnnalsContext.current()));
        assertThat((String) seen.get().asMap().get("request_id")).matches("[0-9a-f-]{36}");
    }

    @Test
    void anApplicationCanExtendTheDefaults() throws Exception {
        var filter = new AnnalsContextFilter(request -> {
            Map<String, Object> context = new LinkedHashMap<>(AnnalsContextFilter.requestContext(request));
            context.put("user_id", 9);
            return context;
        });
        AtomicReference<AnnalsContext> seen = new AtomicReference<>();
        filter.doFilter(request("PUT", "/todo/1", Map.of("X-Request-Id", "r")), response(),
                (req, res) -> seen.set(AnnalsContext.current()));
        assertThat(seen.get().asMap()).containsOnlyKeys("method", "endpoint", "request_id", "user_id");
    }

    @Test
    void anInvalidContextFailsTheRequestInsteadOfBeingDropped() {
        var filter = new AnnalsContextFilter(request -> Map.of("user", new Object()));
        FilterChain chain = (req, res) -> {
            throw new AssertionError("must not run without its context");
        };
        assertThatThrownBy(() -> filter.doFilter(request("GET", "/", Map.of()), response(), chain))
                .isInstanceOf(InvalidContextException.class);
    }

    @Test
    void nullOrNonHttpRequestsPassThroughWithoutContext() throws Exception {
        AtomicReference<AnnalsContext> seen = new AtomicReference<>();
        new AnnalsContextFilter(request -> null).doFilter(request("GET", "/", Map.of()), response(),
                (req, res) -> seen.set(AnnalsContext.current()));
        assertThat(seen.get().isEmpty()).isTrue();

        ServletRequest plain = (ServletRequest) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {ServletRequest.class}, (proxy, method, args) -> null);
        AnnalsContextFilter.requestDefaults().doFilter(plain, response(), (req, res) -> seen.set(AnnalsContext.current()));
        assertThat(seen.get().isEmpty()).isTrue();
    }

    @Test
    void writesMadeDuringTheRequestCarryItsContextIntoTheWal() throws Exception {
        String url = TestPostgres.newDatabase("filter");
        TestPostgres.execute(url, "CREATE TABLE todo (id int PRIMARY KEY, title text)");
        PGSimpleDataSource postgres = new PGSimpleDataSource();
        postgres.setURL(url);
        var db = ContextDataSource.wrap(postgres);
        try (Wal wal = Wal.open(url)) {
            AnnalsContextFilter.requestDefaults().doFilter(
                    request("POST", "/todo", Map.of("X-Request-Id", "abc")), response(), (req, res) -> {
                        try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
                            s.executeUpdate("INSERT INTO todo VALUES (1, 'milk')");
                        } catch (java.sql.SQLException e) {
                            throw new ServletException(e);
                        }
                    });
            List<String> lines = wal.changes();
            assertThat(Wal.messages(lines)).containsExactly("{\"method\":\"POST\",\"endpoint\":\"/todo\",\"request_id\":\"abc\"}");
            assertThat(lines.get(1)).startsWith(Wal.MESSAGE);
        }
    }

    /** A stand-in for the container's request: just what the filter reads. */
    private static HttpServletRequest request(String method, String uri, Map<String, String> headers) {
        Map<String, String> byName = new HashMap<>();
        headers.forEach((name, value) -> byName.put(name.toLowerCase(java.util.Locale.ROOT), value));
        return (HttpServletRequest) Proxy.newProxyInstance(AnnalsContextFilterTest.class.getClassLoader(),
                new Class<?>[] {HttpServletRequest.class}, (proxy, m, args) -> switch (m.getName()) {
                    case "getMethod" -> method;
                    case "getRequestURI" -> uri;
                    case "getHeader" -> byName.get(((String) args[0]).toLowerCase(java.util.Locale.ROOT));
                    case "toString" -> "request " + method + " " + uri;
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }

    private static ServletResponse response() {
        return (HttpServletResponse) Proxy.newProxyInstance(AnnalsContextFilterTest.class.getClassLoader(),
                new Class<?>[] {HttpServletResponse.class}, (proxy, m, args) -> {
                    throw new UnsupportedOperationException(m.getName());
                });
    }
}
