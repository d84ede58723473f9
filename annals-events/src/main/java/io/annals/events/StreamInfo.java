package io.annals.events;

import java.time.Instant;

/**
 * A stream's row: its category, version and life cycle.
 *
 * <pre>{@code
 * store.streamInfo("account-42").map(StreamInfo::version).orElse(0L);
 * }</pre>
 *
 * @param streamId   the stream
 * @param streamType its category (the id up to the first {@code '-'})
 * @param version    the number of events ever appended (deleting does not lower it)
 * @param createdAt  when its first event was appended
 * @param archivedAt when it was archived, or null
 * @param deletedAt  when it was deleted, or null
 */
public record StreamInfo(String streamId, String streamType, long version, Instant createdAt, Instant archivedAt,
                         Instant deletedAt) {

    /** Whether the stream still accepts events. */
    public boolean isOpen() {
        return archivedAt == null && deletedAt == null;
    }
}
