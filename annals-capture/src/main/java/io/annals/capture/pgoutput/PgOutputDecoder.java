package io.annals.capture.pgoutput;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Decodes {@code pgoutput} messages, protocol versions 1 to 4.
 *
 * <p>The decoder is stateful in one way only: inside a streamed block (between Stream Start and
 * Stream Stop) data messages carry a transaction id in front, outside they do not, and nothing in
 * the message itself says which. Not thread-safe.
 *
 * <pre>{@code
 * PgOutputDecoder decoder = new PgOutputDecoder(4);
 * PgOutputMessage m = decoder.decode(stream.read());
 * }</pre>
 */
public final class PgOutputDecoder {

    private final int protocolVersion;
    private boolean inStream;

    public PgOutputDecoder(int protocolVersion) {
        if (protocolVersion < 1 || protocolVersion > 4) {
            throw new IllegalArgumentException("pgoutput protocol version must be 1 to 4, not " + protocolVersion);
        }
        this.protocolVersion = protocolVersion;
    }

    /** Decodes one message; the buffer's position moves past it. */
    public PgOutputMessage decode(ByteBuffer b) {
        char tag = (char) b.get();
        return switch (tag) {
            case 'B' -> new PgOutputMessage.Begin(b.getLong(), b.getLong(), u32(b));
            case 'C' -> new PgOutputMessage.Commit(b.get(), b.getLong(), b.getLong(), b.getLong());
            case 'O' -> new PgOutputMessage.Origin(b.getLong(), string(b));
            case 'R' -> relation(b);
            case 'Y' -> {
                long xid = streamXid(b);
                yield new PgOutputMessage.Type(xid, b.getInt(), string(b), string(b));
            }
            case 'I' -> {
                long xid = streamXid(b);
                int rel = b.getInt();
                expect(b, 'N', "Insert");
                yield new PgOutputMessage.Insert(xid, rel, tuple(b));
            }
            case 'U' -> update(b);
            case 'D' -> {
                long xid = streamXid(b);
                int rel = b.getInt();
                char kind = (char) b.get();
                if (kind != 'K' && kind != 'O') throw unexpected("Delete", kind);
                yield new PgOutputMessage.Delete(xid, rel, kind, tuple(b));
            }
            case 'T' -> {
                long xid = streamXid(b);
                int n = b.getInt();
                int options = b.get();
                int[] ids = new int[n];
                for (int i = 0; i < n; i++) ids[i] = b.getInt();
                yield new PgOutputMessage.Truncate(xid, options, ids);
            }
            case 'M' -> {
                long xid = streamXid(b);
                boolean transactional = (b.get() & 1) != 0;
                long lsn = b.getLong();
                String prefix = string(b);
                byte[] content = new byte[b.getInt()];
                b.get(content);
                yield new PgOutputMessage.Message(xid, transactional, lsn, prefix, content);
            }
            case 'S' -> {
                requireVersion(2, "Stream Start");
                inStream = true;
                yield new PgOutputMessage.StreamStart(u32(b), b.get() == 1);
            }
            case 'E' -> {
                requireVersion(2, "Stream Stop");
                inStream = false;
                yield new PgOutputMessage.StreamStop();
            }
            case 'c' -> {
                requireVersion(2, "Stream Commit");
                yield new PgOutputMessage.StreamCommit(u32(b), b.get(), b.getLong(), b.getLong(), b.getLong());
            }
            case 'A' -> {
                requireVersion(2, "Stream Abort");
                // Protocol 4 with parallel streaming appends the abort LSN and time; we do not need them.
                yield new PgOutputMessage.StreamAbort(u32(b), u32(b));
            }
            case 'b', 'P', 'K', 'r', 'p' -> new PgOutputMessage.TwoPhase(tag);
            default -> throw new PgOutputException("Unknown pgoutput message type '" + tag + "' (0x"
                    + Integer.toHexString(tag) + ") under protocol version " + protocolVersion);
        };
    }

    private PgOutputMessage.Relation relation(ByteBuffer b) {
        long xid = streamXid(b);
        int id = b.getInt();
        String schema = string(b);
        String table = string(b);
        char identity = (char) b.get();
        int n = b.getShort() & 0xFFFF;
        List<PgOutputMessage.Column> columns = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            boolean key = (b.get() & 1) != 0;
            columns.add(new PgOutputMessage.Column(key, string(b), b.getInt(), b.getInt()));
        }
        return new PgOutputMessage.Relation(xid, id, schema, table, identity, List.copyOf(columns));
    }

    private PgOutputMessage.Update update(ByteBuffer b) {
        long xid = streamXid(b);
        int rel = b.getInt();
        char kind = (char) b.get();
        Tuple old = null;
        char oldKind = 0;
        if (kind == 'K' || kind == 'O') {
            oldKind = kind;
            old = tuple(b);
            kind = (char) b.get();
        }
        if (kind != 'N') throw unexpected("Update", kind);
        return new PgOutputMessage.Update(xid, rel, oldKind, old, tuple(b));
    }

    private static Tuple tuple(ByteBuffer b) {
        int n = b.getShort() & 0xFFFF;
        byte[] kinds = new byte[n];
        String[] values = new String[n];
        for (int i = 0; i < n; i++) {
            byte kind = b.get();
            kinds[i] = kind;
            switch (kind) {
                case Tuple.NULL, Tuple.UNCHANGED_TOAST -> { }
                case Tuple.TEXT, Tuple.BINARY -> {
                    int len = b.getInt();
                    values[i] = utf8(b, len);
                }
                default -> throw new PgOutputException("Unknown tuple column kind '" + (char) kind + "'");
            }
        }
        return new Tuple(kinds, values);
    }

    private static String utf8(ByteBuffer b, int len) {
        String s;
        if (b.hasArray()) {
            s = new String(b.array(), b.arrayOffset() + b.position(), len, StandardCharsets.UTF_8);
            b.position(b.position() + len);
        } else {
            byte[] bytes = new byte[len];
            b.get(bytes);
            s = new String(bytes, StandardCharsets.UTF_8);
        }
        return s;
    }

    private long streamXid(ByteBuffer b) {
        return inStream ? u32(b) : 0;
    }

    private void requireVersion(int min, String what) {
        if (protocolVersion < min) {
            throw new PgOutputException(what + " needs pgoutput protocol " + min + " or later, but " + protocolVersion + " is in use");
        }
    }

    private static long u32(ByteBuffer b) {
        return b.getInt() & 0xFFFF_FFFFL;
    }

    private static String string(ByteBuffer b) {
        int start = b.position();
        int end = start;
        while (b.get(end) != 0) end++;
        String s = utf8(b, end - start);
        b.get(); // the terminating NUL
        return s;
    }

    private static void expect(ByteBuffer b, char want, String message) {
        char got = (char) b.get();
        if (got != want) throw unexpected(message, got);
    }

    private static PgOutputException unexpected(String message, char got) {
        return new PgOutputException("Malformed " + message + " message: unexpected tuple marker '" + got + "'");
    }
}
