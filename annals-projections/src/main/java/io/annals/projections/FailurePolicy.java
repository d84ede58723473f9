package io.annals.projections;

/**
 * What a projection does when its mapping fails on a change (the mapper throws, or its rows do
 * not fit the read table). Either way the change, its error and its position go to the
 * projection's quarantine ({@code annals projections quarantine list}).
 *
 * <pre>{@code
 * Projection.named("ledger").into("public.ledger").from("public.payment", mapper).onFailure(FailurePolicy.SKIP)
 * }</pre>
 */
public enum FailurePolicy {
    /**
     * The default: the projection stops just before the change, having applied everything before
     * it, and tries it again after a back-off (so a fixed mapper picks up where it stopped);
     * other projections go on. A discard lets it pass the change.
     */
    HALT,
    /**
     * The projection leaves the change's canonical key as it was and goes on; a retry later
     * re-derives that key from the source's current state.
     */
    SKIP
}
