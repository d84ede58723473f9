package io.annals.replication.master;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.DoubleNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.annals.replication.CqrsMaster;
import io.annals.replication.wire.PythonText;

/**
 * A column value as PostgreSQL's {@code to_jsonb} gives it (the change log's images), turned into
 * what a Django master would send for it: datetimes and times in Python's {@code str()} form,
 * numerics and floats as Python floats (unless {@link CqrsMaster.Decimals#EXACT}); dates, UUIDs,
 * JSON, booleans, integers and text are already the same.
 */
final class WireValues {

    private WireValues() {
    }

    static JsonNode toWire(JsonNode value, String type, CqrsMaster.Decimals decimals) {
        if (value == null || value.isNull() || type == null) return value;
        switch (type) {
            case "timestamptz", "timestamp" -> {
                if (value.isTextual()) return TextNode.valueOf(PythonText.dateTimeText(value.textValue()));
            }
            case "time" -> {
                if (value.isTextual()) return TextNode.valueOf(PythonText.timeText(value.textValue()));
            }
            case "numeric", "float4", "float8" -> {
                // NaN and infinities come as text from to_jsonb, and stay text: JSON has no number for them.
                if (value.isNumber() && decimals == CqrsMaster.Decimals.FLOAT) return DoubleNode.valueOf(value.doubleValue());
            }
            default -> {
                return value;
            }
        }
        return value;
    }
}
