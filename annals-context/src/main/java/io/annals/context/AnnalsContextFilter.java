package io.annals.context;

import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.function.Function;

/**
 * A servlet filter that binds an {@link AnnalsContext} for the rest of the request's processing
 * on the request thread, and always removes it afterwards, so pooled threads never carry one
 * request's context into the next.
 *
 * <pre>{@code
 * // what the application knows about the request
 * var filter = new AnnalsContextFilter(request -> {
 *     Map<String, Object> context = new LinkedHashMap<>(AnnalsContextFilter.requestContext(request));
 *     context.put("user_id", request.getRemoteUser());
 *     return context;
 * });
 * servletContext.addFilter("annals", filter).addMappingForUrlPatterns(null, false, "/*");
 *
 * // or just method, endpoint and request id
 * servletContext.addFilter("annals", AnnalsContextFilter.requestDefaults());
 * }</pre>
 *
 * <p>Work the request hands to other threads (asynchronous servlets, executors) does not inherit
 * the context by itself; pass {@link AnnalsContext#current()} along and bind it there.
 */
// jakarta.servlet is required static (the container provides it, other applications never load
// this class), so its types here are not re-exported with 'requires transitive'.
@SuppressWarnings("exports")
public final class AnnalsContextFilter implements Filter {

    /** The header whose value becomes {@code request_id} in {@link #requestContext(HttpServletRequest)}. */
    public static final String REQUEST_ID_HEADER = "X-Request-Id";

    private final Function<? super HttpServletRequest, ? extends Map<String, ?>> contextOf;

    /**
     * A filter binding the context {@code contextOf} computes for each HTTP request; a null or
     * empty result binds nothing. An {@link InvalidContextException} it causes fails the request
     * rather than letting its writes go unattributed.
     */
    public AnnalsContextFilter(Function<? super HttpServletRequest, ? extends Map<String, ?>> contextOf) {
        this.contextOf = Objects.requireNonNull(contextOf, "contextOf");
    }

    /**
     * A filter binding {@link #requestContext(HttpServletRequest)}.
     *
     * <pre>{@code servletContext.addFilter("annals", AnnalsContextFilter.requestDefaults());}</pre>
     */
    public static AnnalsContextFilter requestDefaults() {
        return new AnnalsContextFilter(AnnalsContextFilter::requestContext);
    }

    /**
     * The context every request has: {@code method}, {@code endpoint} (the request URI, without
     * the query string, which may hold secrets) and {@code request_id} (the {@value #REQUEST_ID_HEADER}
     * header if present, so that changes can be matched with the caller's logs; else a random UUID).
     *
     * <pre>{@code Map<String, Object> context = AnnalsContextFilter.requestContext(request);}</pre>
     */
    public static Map<String, Object> requestContext(HttpServletRequest request) {
        Map<String, Object> context = new LinkedHashMap<>();
        context.put("method", request.getMethod());
        context.put("endpoint", request.getRequestURI());
        String requestId = request.getHeader(REQUEST_ID_HEADER);
        context.put("request_id", requestId == null || requestId.isBlank() ? UUID.randomUUID().toString() : requestId);
        return context;
    }

    @Override
    @SuppressWarnings("try") // the scope is held only to be closed
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        if (!(request instanceof HttpServletRequest http)) {
            chain.doFilter(request, response);
            return;
        }
        Map<String, ?> values = contextOf.apply(http);
        try (AnnalsContext.Scope scope = AnnalsContext.with(values == null ? Map.of() : values)) {
            chain.doFilter(request, response);
        }
    }
}
