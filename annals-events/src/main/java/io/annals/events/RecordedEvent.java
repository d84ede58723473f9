package io.annals.events;

import java.time.Instant;
import java.util.UUID;

/**
 * A stored event, as read back. {@code data} and {@code metadata} are the JSON text as stored;
 * {@link EventTypes#decode(RecordedEvent)} turns the data into a typed event.
 *
 * <pre>{@code
 * for (RecordedEvent e : store.readStream("account-42").toList()) {
 *     System.out.println(e.streamVersion() + " " + e.type() + " " + e.data());
 * }
 * }</pre>
 *
 * @param globalPosition where the event is in the global order
 * @param streamId       its stream
 * @param streamType     the stream's category: the id up to the first {@code '-'}
 * @param streamVersion  its version in the stream, from 1
 * @param eventId        the id given at append time (idempotency key)
 * @param type           the event type name
 * @param data           the event as JSON
 * @param metadata       a JSON object: the application context at append time, or what the caller passed
 * @param recordedAt     when the event was appended
 */
public record RecordedEvent(GlobalPosition globalPosition, String streamId, String streamType, long streamVersion,
                            UUID eventId, String type, String data, String metadata, Instant recordedAt) {

    /** The event's unique position (not gap-free, not commit-ordered: order by {@link #globalPosition()}). */
    public long position() {
        return globalPosition.position();
    }

    @Override
    public String toString() {
        return streamId + "@" + streamVersion + " " + type + " " + data + " (" + globalPosition + ")";
    }
}
