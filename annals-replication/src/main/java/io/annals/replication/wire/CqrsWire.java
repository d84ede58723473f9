package io.annals.replication.wire;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.annals.changelog.Json;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Iterator;
import java.util.Map;

/**
 * The django-cqrs 3.x body, byte for byte as a Python master sends it, and read back leniently.
 *
 * <p>Encoding follows what django-cqrs does with {@code ujson.dumps}: compact JSON, keys in the
 * order {@code signal_type, cqrs_id, instance_data, previous_data, instance_pk, correlation_id,
 * retries, expires, meta}, every non-ASCII character as {@code \\uXXXX} (surrogate pairs above the
 * BMP), {@code /} escaped as {@code \\/}, a double as Python's {@code repr}. {@code expires} is
 * always written, null or not: a Django replica without it crashes its worker ({@code KeyError}).
 *
 * <p>Decoding accepts any valid JSON, checks the fields a replica needs and says exactly which one is
 * wrong. Unknown top-level keys are ignored, as a Django replica does.
 *
 * <pre>{@code
 * byte[] body = CqrsWire.encode(message);
 * CqrsMessage back = CqrsWire.decode(body);
 * }</pre>
 */
public final class CqrsWire {

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private CqrsWire() {
    }

    /** The message's body: UTF-8 bytes that are in fact pure ASCII. */
    public static byte[] encode(CqrsMessage m) {
        StringBuilder out = new StringBuilder(256);
        out.append("{\"signal_type\":");
        string(out, m.signalType().name());
        out.append(",\"cqrs_id\":");
        string(out, m.cqrsId());
        out.append(",\"instance_data\":");
        value(out, m.instanceData());
        out.append(",\"previous_data\":");
        value(out, m.previousData());
        out.append(",\"instance_pk\":");
        value(out, m.instancePk());
        out.append(",\"correlation_id\":");
        if (m.correlationId() == null) out.append("null");
        else string(out, m.correlationId());
        out.append(",\"retries\":").append(m.retries());
        out.append(",\"expires\":");
        if (m.expires() == null) out.append("null");
        else string(out, PythonText.expires(m.expires()));
        out.append(",\"meta\":");
        value(out, m.meta());
        out.append('}');
        return out.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** Any JSON value as ujson writes it: compact, ASCII-only, {@code /} escaped. */
    public static String json(JsonNode node) {
        StringBuilder out = new StringBuilder();
        value(out, node);
        return out.toString();
    }

    /**
     * Reads a body.
     *
     * @throws WireException naming what is missing or wrong: not JSON, not an object, an unknown
     *                       {@code signal_type}, a missing {@code cqrs_id}, {@code instance_data} or key, a bad
     *                       {@code retries} or {@code expires}
     */
    public static CqrsMessage decode(byte[] body) {
        JsonNode root;
        try {
            root = Json.mapper().readTree(body);
        } catch (java.io.IOException e) {
            throw new WireException("The body is not JSON (" + firstLine(e) + "): " + preview(body), e);
        }
        if (root == null || !root.isObject()) {
            throw new WireException("The body is not a JSON object: " + preview(body));
        }
        JsonNode type = root.get("signal_type");
        if (type == null || !type.isTextual()) throw new WireException("signal_type is missing or not text: " + preview(body));
        SignalType signal;
        try {
            signal = SignalType.valueOf(type.textValue());
        } catch (IllegalArgumentException e) {
            throw new WireException("signal_type '" + type.textValue() + "' is not SAVE, DELETE or SYNC");
        }
        JsonNode id = root.get("cqrs_id");
        if (id == null || !id.isTextual() || id.textValue().isEmpty()) {
            throw new WireException("cqrs_id is missing or not text: " + preview(body));
        }
        String cqrsId = id.textValue();
        JsonNode data = root.get("instance_data");
        if (data == null || !data.isObject()) {
            throw new WireException(cqrsId + ": instance_data is missing or not an object");
        }
        JsonNode previous = root.get("previous_data");
        if (previous != null && !previous.isNull() && !previous.isObject()) {
            throw new WireException(cqrsId + ": previous_data is neither an object nor null");
        }
        JsonNode pk = root.get("instance_pk");
        if (pk == null || pk.isNull()) pk = data.get("id");
        if (pk == null || pk.isNull()) throw new WireException(cqrsId + ": instance_pk is missing (and instance_data has no id)");
        JsonNode correlation = root.get("correlation_id");
        String correlationId = correlation == null || correlation.isNull() ? null : correlation.asText();
        JsonNode retriesNode = root.get("retries");
        int retries = 0;
        if (retriesNode != null && !retriesNode.isNull()) {
            if (!retriesNode.isIntegralNumber() || !retriesNode.canConvertToInt() || retriesNode.intValue() < 0) {
                throw new WireException(cqrsId + " " + pk + ": retries " + retriesNode + " is not a count");
            }
            retries = retriesNode.intValue();
        }
        JsonNode expiresNode = root.get("expires");
        Instant expires = null;
        if (expiresNode != null && !expiresNode.isNull()) {
            if (!expiresNode.isTextual()) throw new WireException(cqrsId + " " + pk + ": expires " + expiresNode + " is not a datetime");
            expires = PythonText.parseInstant(expiresNode.textValue());
        }
        JsonNode meta = root.get("meta");
        if (meta != null && !meta.isNull() && !meta.isObject()) throw new WireException(cqrsId + " " + pk + ": meta is not an object");
        return new CqrsMessage(signal, cqrsId, (ObjectNode) data, previous == null || previous.isNull() ? null : (ObjectNode) previous,
                pk, correlationId, retries, expires, meta == null || meta.isNull() ? null : (ObjectNode) meta);
    }

    /** The start of a body, for an error message: enough to find it, never the whole of a large one. */
    public static String preview(byte[] body) {
        String text = new String(body, 0, Math.min(body.length, 300), StandardCharsets.UTF_8);
        return body.length > 300 ? text + "... (" + body.length + " bytes)" : text;
    }

    private static String firstLine(Exception e) {
        String m = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
        if (m == null) return e.getClass().getSimpleName();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    private static void value(StringBuilder out, JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            out.append("null");
        } else if (node.isObject()) {
            out.append('{');
            boolean first = true;
            for (Iterator<Map.Entry<String, JsonNode>> it = node.properties().iterator(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!first) out.append(',');
                first = false;
                string(out, e.getKey());
                out.append(':');
                value(out, e.getValue());
            }
            out.append('}');
        } else if (node.isArray()) {
            out.append('[');
            for (int i = 0; i < node.size(); i++) {
                if (i > 0) out.append(',');
                value(out, node.get(i));
            }
            out.append(']');
        } else if (node.isTextual()) {
            string(out, node.textValue());
        } else if (node.isBoolean()) {
            out.append(node.booleanValue());
        } else if (node.isDouble() || node.isFloat()) {
            String repr = PythonText.floatRepr(node.doubleValue());
            if (repr.endsWith("inf") || repr.equals("nan")) {
                throw new IllegalArgumentException("JSON has no " + repr + "; send it as text");
            }
            out.append(repr);
        } else if (node.isBigDecimal()) {
            out.append(node.decimalValue().toPlainString());
        } else if (node.isNumber()) {
            out.append(node.bigIntegerValue());
        } else {
            // Binary or POJO nodes do not come from JSON; write their text so nothing is silently lost.
            string(out, node.asText());
        }
    }

    private static void string(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '/' -> out.append("\\/");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20 || c > 0x7e) {
                        out.append("\\u").append(HEX[c >> 12 & 0xf]).append(HEX[c >> 8 & 0xf])
                                .append(HEX[c >> 4 & 0xf]).append(HEX[c & 0xf]);
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
