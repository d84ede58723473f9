package io.annals.projections;

import io.annals.changelog.Position;
import io.annals.changelog.feed.ChangeFeed;

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

    /** What a running projection is doing. */
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
    private final ChangeFeed feed;
    private final Runner runner;

    RunningProjection(Projection projection, ChangeFeed feed, Runner runner) {
        this.projection = projection;
        this.feed = feed;
        this.runner = runner;
    }

    /** The projection. */
    public Projection projection() {
        return projection;
    }

    /** What it is doing now. */
    public State state() {
        return switch (feed.state()) {
            case STARTING -> State.STARTING;
            case RUNNING -> State.RUNNING;
            case RETRYING -> feed.failure().filter(Runner.Halted.class::isInstance).isPresent() ? State.HALTED : State.RETRYING;
            case CLOSED -> State.CLOSED;
        };
    }

    /** Why it is halted or retrying. */
    public Optional<Throwable> failure() {
        return feed.failure();
    }

    /** The position of the last change applied. */
    public Optional<Position> position() {
        return feed.position();
    }

    /** Changes in the log it has not read yet (an estimate). */
    public long changesBehind() {
        return feed.changesBehind();
    }

    /** How long the oldest change it has not applied has waited, in seconds. */
    public double secondsBehind() {
        return feed.secondsBehind();
    }

    /** Waits until every change in the log now is applied; false if {@code timeout} passed first. */
    public boolean awaitCaughtUp(Duration timeout) {
        return feed.awaitCaughtUp(timeout);
    }

    @Override
    public void close() {
        feed.close();
        runner.closeSource();
    }

    @Override
    public String toString() {
        return projection + " " + state();
    }
}
