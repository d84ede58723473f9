package io.annals.cli;

import io.annals.projections.FailurePolicy;
import io.annals.projections.Projection;
import io.annals.projections.ProjectionProvider;

import java.util.List;
import java.util.Map;

/**
 * A Java projection for the CLI's tests, found through {@code --class-path} (see
 * {@link #classPath}): incomes into table {@code ledger}, except that its mapping fails on an
 * income whose memo is "boom", which it then skips into the quarantine.
 */
public final class TestLedger implements ProjectionProvider {

    /** The read table, beside {@link WaveExample#SCHEMA}. */
    static final String[] SCHEMA = {
            "CREATE TABLE ledger (canonical_type text NOT NULL, canonical_pk jsonb NOT NULL, amount numeric(12,2) NOT NULL)",
            "CREATE INDEX ON ledger (canonical_type, canonical_pk)"};

    @Override
    public List<Projection> projections() {
        return List.of(Projection.named("ledger").into("public.ledger")
                .from("public.income", c -> {
                    if ("boom".equals(c.after("memo"))) throw new IllegalStateException("memo boom is not allowed");
                    return List.of(Map.of("amount", c.after("amount")));
                })
                .onFailure(FailurePolicy.SKIP)
                .build());
    }

    /** A folder that names this provider in META-INF/services, for {@code --class-path}. */
    static java.nio.file.Path classPath(java.nio.file.Path dir) throws java.io.IOException {
        java.nio.file.Path services = dir.resolve("META-INF/services/" + ProjectionProvider.class.getName());
        java.nio.file.Files.createDirectories(services.getParent());
        java.nio.file.Files.writeString(services, TestLedger.class.getName() + "\n");
        return dir;
    }
}
