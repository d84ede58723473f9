package io.annals.replication;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.annals.replication.wire.CqrsMessage;
import io.annals.replication.wire.CqrsWire;
import io.annals.replication.wire.PythonText;
import io.annals.replication.wire.SignalType;

import java.time.Duration;
import java.time.Instant;

/** Messages as a Django master would send them, for replica tests. */
final class Messages {

    static final Instant T0 = Instant.parse("2026-12-04T21:38:27.950119Z");

    private Messages() {
    }

    static Instant at(int seconds) {
        return T0.plusSeconds(seconds);
    }

    /** A SAVE (or SYNC) of author {@code id} named {@code name}. */
    static CqrsMessage author(SignalType type, int id, int revision, Instant updated, String name) {
        ObjectNode data = JsonNodeFactory.instance.objectNode();
        data.put("cqrs_revision", revision).put("cqrs_updated", PythonText.dateTime(updated)).put("id", id).put("name", name)
                .put("birth_date", "1815-12-10");
        return new CqrsMessage(type, RabbitQueues.AUTHOR, data, null, JsonNodeFactory.instance.numberNode(id), null, 0,
                updated.plus(Duration.ofDays(3650)), null);
    }

    static CqrsMessage delete(String cqrsId, int id, int revision, Instant updated) {
        ObjectNode data = JsonNodeFactory.instance.objectNode();
        data.put("id", id).put("cqrs_revision", revision).put("cqrs_updated", PythonText.dateTime(updated));
        return new CqrsMessage(SignalType.DELETE, cqrsId, data, null, JsonNodeFactory.instance.numberNode(id), null, 0,
                updated.plus(Duration.ofDays(3650)), null);
    }

    static byte[] body(CqrsMessage m) {
        return CqrsWire.encode(m);
    }
}
