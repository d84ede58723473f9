package io.annals.projections;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/**
 * Offers projections defined in Java to tools that find them on the class path, such as
 * {@code annals projections run}: implement it, and name the class in
 * {@code META-INF/services/io.annals.projections.ProjectionProvider} (or with
 * {@code provides io.annals.projections.ProjectionProvider with ...} in a module descriptor).
 *
 * <pre>{@code
 * public final class LedgerProjections implements ProjectionProvider {
 *     @Override
 *     public List<Projection> projections() {
 *         return List.of(Projection.named("financial_transaction")
 *                 .into("public.financial_transaction")
 *                 .from("public.income", change -> List.of(Map.of("amount", change.after("amount"))))
 *                 .build());
 *     }
 * }
 *
 * List<Projection> found = ProjectionProvider.discover(Thread.currentThread().getContextClassLoader());
 * }</pre>
 */
public interface ProjectionProvider {

    /** The projections this provider defines; called once per discovery. */
    List<Projection> projections();

    /**
     * Every projection of every provider {@code loader} finds, in the order found.
     *
     * @throws ProjectionException when a provider cannot be loaded or fails, or two projections
     *                             share a name (they would share a checkpoint)
     */
    static List<Projection> discover(ClassLoader loader) {
        Map<String, String> definedBy = new LinkedHashMap<>();
        List<Projection> out = new ArrayList<>();
        try {
            for (ProjectionProvider provider : ServiceLoader.load(ProjectionProvider.class, loader)) {
                String by = provider.getClass().getName();
                List<Projection> defined;
                try {
                    defined = provider.projections();
                } catch (RuntimeException e) {
                    throw new ProjectionException("Projection provider " + by + " failed: " + e.getMessage(), e);
                }
                for (Projection p : defined) {
                    String other = definedBy.putIfAbsent(p.name(), by);
                    if (other != null) {
                        throw new ProjectionException("Projection " + p.name() + " is defined twice, by " + other + " and "
                                + by + "; projections need distinct names, since each name keys a checkpoint");
                    }
                    out.add(p);
                }
            }
        } catch (ServiceConfigurationError e) {
            throw new ProjectionException("Could not load a projection provider: " + e.getMessage()
                    + "; check META-INF/services/" + ProjectionProvider.class.getName() + " and the class path", e);
        }
        return out;
    }
}
