package io.annals.projections;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Providers are found through META-INF/services; two projections of one name are refused. */
class ProjectionProviderTest {

    public static final class Ledger implements ProjectionProvider {
        @Override
        public List<Projection> projections() {
            return List.of(Projection.named("ledger").into("public.ledger")
                    .from("public.income", c -> List.of(Map.of("amount", c.after("amount")))).build());
        }
    }

    public static final class AnotherLedger implements ProjectionProvider {
        @Override
        public List<Projection> projections() {
            return new Ledger().projections();
        }
    }

    /** A class loader that sees the test classes and a services file naming {@code providers}. */
    private static ClassLoader withServices(Path dir, Class<?>... providers) throws Exception {
        return withServices(dir, java.util.Arrays.stream(providers).map(Class::getName).toArray(String[]::new));
    }

    private static ClassLoader withServices(Path dir, String... providers) throws Exception {
        Path services = dir.resolve("META-INF/services/" + ProjectionProvider.class.getName());
        Files.createDirectories(services.getParent());
        StringBuilder text = new StringBuilder();
        for (String p : providers) text.append(p).append('\n');
        Files.writeString(services, text);
        return new URLClassLoader(new java.net.URL[]{dir.toUri().toURL()}, ProjectionProviderTest.class.getClassLoader());
    }

    @Test
    void findsTheProjectionsOfEachProvider(@TempDir Path dir) throws Exception {
        List<Projection> found = ProjectionProvider.discover(withServices(dir, Ledger.class));
        assertThat(found).extracting(Projection::name).containsExactly("ledger");
        assertThat(found.get(0).sourceTables()).containsExactly("public.income");
    }

    @Test
    void refusesTwoProjectionsOfOneName(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> ProjectionProvider.discover(withServices(dir, Ledger.class, AnotherLedger.class)))
                .isInstanceOf(ProjectionException.class)
                .hasMessageContaining("Projection ledger is defined twice, by " + Ledger.class.getName() + " and "
                        + AnotherLedger.class.getName());
    }

    @Test
    void namesAProviderThatCannotBeLoaded(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> ProjectionProvider.discover(withServices(dir, "com.example.MissingProvider")))
                .isInstanceOf(ProjectionException.class)
                .hasMessageContaining("Could not load a projection provider", "com.example.MissingProvider",
                        "META-INF/services/io.annals.projections.ProjectionProvider");
    }
}
