package io.annals.changelog;

/**
 * A failure-injection hook at the stages of storing a batch, in the spirit of HikariCP's own
 * failure tests. Production code uses {@link #NONE}; crash tests install one that halts the JVM
 * (the in-process equivalent of {@code kill -9}) at a chosen stage.
 *
 * <pre>{@code
 * writer.crashPoint(stage -> { if (stage == CrashPoint.Stage.BEFORE_COMMIT) Runtime.getRuntime().halt(137); });
 * }</pre>
 */
@FunctionalInterface
public interface CrashPoint {

    /** The stages of {@link ChangeLogWriter#write}, and of the capture worker around it. */
    enum Stage {
        /** A batch is decoded and about to be written. */
        BEFORE_COPY,
        /** The rows are copied; the checkpoint is not yet updated. */
        AFTER_COPY,
        /** Rows and checkpoint are written; the transaction is not yet committed. */
        BEFORE_COMMIT,
        /** The batch is committed; the replication slot is not yet confirmed. */
        AFTER_COMMIT,
        /** The slot was confirmed up to the batch. */
        AFTER_CONFIRM
    }

    /** Does nothing. */
    CrashPoint NONE = stage -> { };

    /** Called when a stage is reached. */
    void reached(Stage stage);
}
