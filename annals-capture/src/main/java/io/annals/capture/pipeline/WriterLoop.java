package io.annals.capture.pipeline;

import io.annals.capture.pipeline.Pipeline.AbortTask;
import io.annals.capture.pipeline.Pipeline.BatchTask;
import io.annals.capture.pipeline.Pipeline.CommitTask;
import io.annals.capture.pipeline.Pipeline.StopTask;
import io.annals.capture.pipeline.Pipeline.SyncTask;
import io.annals.capture.pipeline.Pipeline.Task;
import io.annals.changelog.Checkpoint;

/**
 * The writer thread's loop: takes the reader's work off the queue, stores it through the
 * {@link BatchWriter}, and only then moves the durable LSN on, which is all the reader may ever
 * confirm to the slot. Sync markers pass through here too, so that "caught up" means "stored".
 */
public final class WriterLoop {

    private final Pipeline pipeline;
    private final BatchWriter batchWriter;
    private final Checkpoint startCheckpoint;

    public WriterLoop(Pipeline pipeline, BatchWriter batchWriter, Checkpoint startCheckpoint) {
        this.pipeline = pipeline;
        this.batchWriter = batchWriter;
        this.startCheckpoint = startCheckpoint;
    }

    public void run() {
        try {
            while (true) {
                Task task = pipeline.take();
                try {
                    switch (task) {
                        case BatchTask b -> {
                            batchWriter.write(b.batch());
                            if (b.batch().confirmedLsn() != 0) pipeline.advanceDurableLsn(b.batch().confirmedLsn());
                        }
                        case CommitTask c -> {
                            batchWriter.commit(c.commit(), startCheckpoint);
                            pipeline.advanceDurableLsn(c.commit().endLsn());
                        }
                        case AbortTask a -> batchWriter.abort(a.abort());
                        case SyncTask s -> pipeline.synced(s.lsn());
                        case StopTask s -> {
                            return;
                        }
                    }
                } finally {
                    pipeline.taskDone();
                }
            }
        } catch (Throwable t) {
            pipeline.fail(t);
        } finally {
            pipeline.threadStopped();
        }
    }
}
