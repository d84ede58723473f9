package io.annals.events;

/**
 * What an append expects of its stream; a mismatch fails with {@link WrongExpectedVersionException}.
 * A stream's version is the number of events ever appended to it, so a stream that does not
 * exist is at version 0.
 *
 * <pre>{@code
 * store.append("account-42", ExpectedVersion.noStream(), opened);        // create, never overwrite
 * store.append("account-42", ExpectedVersion.exactly(3), deposited);     // optimistic concurrency
 * store.append("account-42", ExpectedVersion.any(), note);               // no check at all
 * }</pre>
 */
public sealed interface ExpectedVersion {

    /** No check: append whatever the stream's state. */
    static ExpectedVersion any() {
        return Any.INSTANCE;
    }

    /** The stream must not exist yet. */
    static ExpectedVersion noStream() {
        return NoStream.INSTANCE;
    }

    /** The stream must exist, at any version. */
    static ExpectedVersion streamExists() {
        return StreamExists.INSTANCE;
    }

    /** The stream must be at exactly {@code version} (0: it must not exist). */
    static ExpectedVersion exactly(long version) {
        return new Exactly(version);
    }

    /** See {@link #any()}. */
    enum Any implements ExpectedVersion {
        INSTANCE;

        @Override
        public String toString() {
            return "any version";
        }
    }

    /** See {@link #noStream()}. */
    enum NoStream implements ExpectedVersion {
        INSTANCE;

        @Override
        public String toString() {
            return "no stream";
        }
    }

    /** See {@link #streamExists()}. */
    enum StreamExists implements ExpectedVersion {
        INSTANCE;

        @Override
        public String toString() {
            return "an existing stream";
        }
    }

    /**
     * See {@link #exactly(long)}.
     *
     * @param version the version the stream must be at, 0 or more
     */
    record Exactly(long version) implements ExpectedVersion {
        public Exactly {
            if (version < 0) {
                throw new IllegalArgumentException("An expected stream version is 0 or more (0: the stream must not exist), not "
                        + version + "; use ExpectedVersion.any() to skip the check");
            }
        }

        @Override
        public String toString() {
            return "version " + version;
        }
    }
}
