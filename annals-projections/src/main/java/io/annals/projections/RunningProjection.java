package io.annals.projections;

import io.annals.changelog.Position;
import io.annals.changelog.feed.ChangeFeed;
import io.annals.events.EventStore;
import io.annals.events.subscription.Subscription;

import java.time.Duration;
import java.util.Optional;

/**
 * A projection being maintained: its feed, and how it is doing. Close it to stop it after the
 * batch in flight.
 *
 * <pre>{@code
 * try (RunningProjection running = projections.start(journal)) {
 *     running.awaitCaughtUp(Duration.ofSeconds(30));
 * }
 * }</pre>
 */
public final class RunningProjection implements AutoCloseable {

    /**
     * What a running projection is doing.
     *
     * <pre>{@code
     * if (running.state() == RunningProjection.State.HALTED) alert(running.failure().orElseThrow());
     * }</pre>
     */
    public enum State {
        /** Connecting, or reading its checkpoint. */
        STARTING,
        /** Applying changes, or waiting for new ones. */
        RUNNING,
        /** Stopped just before a change its mapping fails on (see {@link #failure()}); it retries after a back-off. */
        HALTED,
        /** A failure (a lost connection, a failing query) stopped its last batch; it retries after a back-off. */
        RETRYING,
        /** Closed. */
        CLOSED
    }

    private final Projection projection;
    /** Null when the projection has no table source. */
    private final ChangeFeed feed;
    private final Runner runner;
    /** Null when it has no event source. */
    private final Subscription events;
    private final EventStore store;

    RunningProjection(Projection projection, ChangeFeed feed, Runner runner, Subscription events, EventStore store) {
        this.projection = projection;
        this.feed = feed;
        this.runner = runner;
        this.events = events;
        this.store = store;
    }

    /** The projection. */
    public Projection projection() {
        return projection;
    }

    /** What it is doing now. */
    public State state() {
        if (events != null && (feed == null || feed.state() == ChangeFeed.State.RUNNING)) {
            switch (events.state()) {
                case FAILED:
                    return State.RETRYING;
                case CLOSED:
                    return State.CLOSED;
                case STARTING, STANDBY:
                    return State.STARTING;
                default:
                    if (feed == null) return State.RUNNING;
            }
        }
        return switch (feed.state()) {
            case STARTING -> State.STARTING;
            case RUNNING -> State.RUNNING;
            case RETRYING -> feed.failure().filter(Runner.Halted.class::isInstance).isPresent() ? State.HALTED : State.RETRYING;
            case CLOSED -> State.CLOSED;
        };
    }

    /** Why it is halted or retrying. */
    public Optional<Throwable> failure() {
        Optional<Throwable> f = feed == null ? Optional.empty() : feed.failure();
        return f.isPresent() || events == null ? f : events.failure();
    }

    /** The position of the last change applied. */
    public Optional<Position> position() {
        return feed == null ? Optional.empty() : feed.position();
    }

    /** Changes in the log it has not read yet (an estimate). */
    public long changesBehind() {
        return feed == null ? 0 : feed.changesBehind();
    }

    /** How long the oldest change it has not applied has waited, in seconds. */
    public double secondsBehind() {
        return feed == null ? 0 : feed.secondsBehind();
    }

    /**
     * Waits until every change in the log now (and every event in the event store now, for
     * event sources) is applied; false if {@code timeout} passed first.
     */
    public boolean awaitCaughtUp(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        if (feed != null && !feed.awaitCaughtUp(timeout)) return false;
        if (events == null) return true;
        while (System.nanoTime() < deadline) {
            if (events.state() == Subscription.State.FAILED || events.state() == Subscription.State.CLOSED) return false;
            if (store.readAll().after(events.checkpoint()).maxCount(1).toList().isEmpty()) return true;
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return false;
    }

    @Override
    public void close() {
        if (feed != null) feed.close();
        if (events != null) events.close();
        if (runner != null) runner.closeSource();
    }

    @Override
    public String toString() {
        return projection + " " + state();
    }
}
