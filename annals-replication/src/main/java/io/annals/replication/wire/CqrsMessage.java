package io.annals.replication.wire;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.time.Instant;
import java.util.Objects;

/**
 * One django-cqrs message: the body a master publishes for a saved, deleted or synced instance,
 * and that a replica applies. {@link CqrsWire} is the one place that turns it into bytes and back.
 *
 * <pre>{@code
 * CqrsMessage m = CqrsMessage.of(SignalType.SAVE, "author", data, IntNode.valueOf(1), expires);
 * m.revision();                    // data's cqrs_revision
 * m.withRetries(m.retries() + 1);  // what a replica republishes to retry it
 * }</pre>
 *
 * @param signalType    SAVE, DELETE or SYNC
 * @param cqrsId        the replicated model's {@code CQRS_ID}
 * @param instanceData  every field by name, with {@code cqrs_revision} and {@code cqrs_updated}
 * @param previousData  tracked fields' previous values, or null
 * @param instancePk    the instance's primary key value
 * @param correlationId an optional correlation id, or null
 * @param retries       how many times a replica has retried it
 * @param expires       after when a replica dead-letters it instead of applying it, or null for never
 * @param meta          free-form metadata ({@code {}} by default)
 */
public record CqrsMessage(SignalType signalType, String cqrsId, ObjectNode instanceData, ObjectNode previousData,
                          JsonNode instancePk, String correlationId, int retries, Instant expires, ObjectNode meta) {

    /** The field holding the revision in {@code instance_data}. */
    public static final String REVISION = "cqrs_revision";
    /** The field holding the last change's time in {@code instance_data}. */
    public static final String UPDATED = "cqrs_updated";

    public CqrsMessage {
        Objects.requireNonNull(signalType, "signalType");
        Objects.requireNonNull(cqrsId, "cqrsId");
        Objects.requireNonNull(instanceData, "instanceData");
        Objects.requireNonNull(instancePk, "instancePk");
        if (retries < 0) throw new IllegalArgumentException("retries cannot be negative: " + retries);
        if (meta == null) meta = JsonNodeFactory.instance.objectNode();
    }

    /** A fresh message from a master: no previous data, no correlation id, no retries, empty meta. */
    public static CqrsMessage of(SignalType signalType, String cqrsId, ObjectNode instanceData, JsonNode instancePk,
                                 Instant expires) {
        return new CqrsMessage(signalType, cqrsId, instanceData, null, instancePk, null, 0, expires, null);
    }

    /**
     * {@code instance_data.cqrs_revision}.
     *
     * @throws WireException when it is missing or not an integer
     */
    public int revision() {
        JsonNode r = instanceData.get(REVISION);
        if (r == null || r.isNull()) throw new WireException(cqrsId + " " + instancePk + ": instance_data has no cqrs_revision");
        if (!r.canConvertToInt() || !r.isIntegralNumber()) {
            throw new WireException(cqrsId + " " + instancePk + ": cqrs_revision " + r + " is not a 32-bit integer");
        }
        return r.intValue();
    }

    /**
     * {@code instance_data.cqrs_updated}, read leniently (Python's {@code str()} or ISO 8601).
     *
     * @throws WireException when it is missing or not a datetime
     */
    public Instant updated() {
        JsonNode u = instanceData.get(UPDATED);
        if (u == null || !u.isTextual()) {
            throw new WireException(cqrsId + " " + instancePk + ": instance_data has no cqrs_updated datetime (got " + u + ")");
        }
        return PythonText.parseInstant(u.textValue());
    }

    /** Whether {@link #expires()} is before {@code now}. */
    public boolean expiredAt(Instant now) {
        return expires != null && expires.isBefore(now);
    }

    /** The same message with another retry count. */
    public CqrsMessage withRetries(int count) {
        return new CqrsMessage(signalType, cqrsId, instanceData, previousData, instancePk, correlationId, count, expires, meta);
    }

    /** The same message with another expiry (null: never). */
    public CqrsMessage withExpires(Instant when) {
        return new CqrsMessage(signalType, cqrsId, instanceData, previousData, instancePk, correlationId, retries, when, meta);
    }

    /** The same message with another signal type (a SAVE re-sent as a SYNC). */
    public CqrsMessage withSignalType(SignalType type) {
        return new CqrsMessage(type, cqrsId, instanceData, previousData, instancePk, correlationId, retries, expires, meta);
    }
}
