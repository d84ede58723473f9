package io.annals.history.internal;

import io.annals.changelog.Position;
import io.annals.history.keyframes.Keyframes;
import io.annals.history.retention.Retention;
import io.annals.history.revert.Revert;
import io.annals.history.timetravel.AsOf;
import io.annals.history.timetravel.RowDiff;

import java.lang.invoke.MethodHandles;
import java.time.Instant;
import java.util.stream.Stream;

/**
 * How {@code AuditTrail} makes what it hands out from the time-travel, revert and retention
 * packages. Those types are API, and a public constructor would be API too (taking this package's
 * types, which are not): so each of them registers its maker here as its class is initialised,
 * and asking for a maker initialises that class first. (The JDK's {@code SharedSecrets} do the same.)
 *
 * <pre>{@code
 * AsOf cut = Makers.timeTravel().at(log, Instant.parse("2026-11-01T00:00:00Z"));
 * }</pre>
 */
public final class Makers {

    /** Makes {@link AsOf}s, and the diff between two of them. */
    public interface TimeTravel {
        /** The cut at the last position committed at or before {@code instant}. */
        AsOf at(ChangeLogReader log, Instant instant);

        /** The cut right after the change at {@code position}. */
        AsOf at(ChangeLogReader log, Position position);

        /** How {@code table} changed from {@code from} to the later cut {@code to}. */
        Stream<RowDiff> diff(String table, AsOf from, AsOf to);
    }

    /** Makes a {@link Revert} of the changes {@code spec} selects. */
    @FunctionalInterface
    public interface Reverts {
        Revert of(ChangeLogReader log, QuerySpec spec);
    }

    /** Makes the {@link Retention} of a change log. */
    @FunctionalInterface
    public interface Retentions {
        Retention of(ChangeLogReader log);
    }

    /** Makes the {@link Keyframes} of a change log. */
    @FunctionalInterface
    public interface KeyframeMaker {
        Keyframes of(ChangeLogReader log);
    }

    private static volatile KeyframeMaker keyframes;
    private static volatile TimeTravel timeTravel;
    private static volatile Reverts reverts;
    private static volatile Retentions retentions;

    private Makers() {
    }

    public static void register(TimeTravel maker) {
        timeTravel = maker;
    }

    public static void register(Reverts maker) {
        reverts = maker;
    }

    public static void register(Retentions maker) {
        retentions = maker;
    }

    public static void registerKeyframes(KeyframeMaker maker) {
        keyframes = maker;
    }

    public static KeyframeMaker keyframes() {
        initialise(Keyframes.class);
        return keyframes;
    }

    public static TimeTravel timeTravel() {
        initialise(AsOf.class);
        return timeTravel;
    }

    public static Reverts reverts() {
        initialise(Revert.class);
        return reverts;
    }

    public static Retentions retentions() {
        initialise(Retention.class);
        return retentions;
    }

    private static void initialise(Class<?> owner) {
        try {
            MethodHandles.lookup().ensureInitialized(owner);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("Cannot initialise " + owner.getName(), e);
        }
    }
}
