package io.annals.capture.pgoutput;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Byte-level checks of the decoder against the message formats in the PostgreSQL manual
 * ("Logical Replication Message Formats"). End-to-end decoding against real servers of every
 * version is covered by PostgresVersionsTest.
 */
class PgOutputDecoderTest {

    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final DataOutputStream out = new DataOutputStream(bytes);

    private ByteBuffer buffer() {
        ByteBuffer b = ByteBuffer.wrap(bytes.toByteArray());
        bytes.reset();
        return b;
    }

    private void string(String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.UTF_8));
        out.write(0);
    }

    private void textColumn(String s) throws IOException {
        byte[] v = s.getBytes(StandardCharsets.UTF_8);
        out.write('t');
        out.writeInt(v.length);
        out.write(v);
    }

    @Test
    void decodesBeginAndCommit() throws IOException {
        PgOutputDecoder d = new PgOutputDecoder(1);
        out.write('B');
        out.writeLong(0x16B3748L);
        out.writeLong(123_456_789L);
        out.writeInt(0xFFFF_FFF0);
        assertThat(d.decode(buffer())).isEqualTo(new PgOutputMessage.Begin(0x16B3748L, 123_456_789L, 0xFFFF_FFF0L));
        out.write('C');
        out.write(0);
        out.writeLong(10);
        out.writeLong(20);
        out.writeLong(30);
        assertThat(d.decode(buffer())).isEqualTo(new PgOutputMessage.Commit(0, 10, 20, 30));
    }

    @Test
    void decodesRelationAndTuplesWithNullsUnchangedToastAndUnicode() throws IOException {
        PgOutputDecoder d = new PgOutputDecoder(1);
        out.write('R');
        out.writeInt(16384);
        string("public");
        string("tâble");
        out.write('d');
        out.writeShort(3);
        out.write(1);
        string("id");
        out.writeInt(23);
        out.writeInt(-1);
        out.write(0);
        string("body");
        out.writeInt(25);
        out.writeInt(-1);
        out.write(0);
        string("note");
        out.writeInt(25);
        out.writeInt(-1);
        PgOutputMessage.Relation r = (PgOutputMessage.Relation) d.decode(buffer());
        assertThat(r.table()).isEqualTo("tâble");
        assertThat(r.columns()).extracting(PgOutputMessage.Column::name).containsExactly("id", "body", "note");
        assertThat(r.columns().get(0).key()).isTrue();

        out.write('U');
        out.writeInt(16384);
        out.write('K');
        out.writeShort(3);
        textColumn("1");
        out.write('n');
        out.write('n');
        out.write('N');
        out.writeShort(3);
        textColumn("2");
        out.write('u');
        textColumn("€ ✓");
        PgOutputMessage.Update u = (PgOutputMessage.Update) d.decode(buffer());
        assertThat(u.oldKind()).isEqualTo('K');
        assertThat(u.oldTuple().text(0)).isEqualTo("1");
        assertThat(u.oldTuple().isNull(1)).isTrue();
        assertThat(u.newTuple().isUnchangedToast(1)).isTrue();
        assertThat(u.newTuple().text(1)).isNull();
        assertThat(u.newTuple().text(2)).isEqualTo("€ ✓");
    }

    @Test
    void streamedBlocksCarryATransactionIdOnDataMessages() throws IOException {
        PgOutputDecoder d = new PgOutputDecoder(2);
        out.write('S');
        out.writeInt(900);
        out.write(1);
        assertThat(d.decode(buffer())).isEqualTo(new PgOutputMessage.StreamStart(900, true));
        out.write('I');
        out.writeInt(901); // a subtransaction's xid
        out.writeInt(16384);
        out.write('N');
        out.writeShort(1);
        textColumn("7");
        PgOutputMessage.Insert i = (PgOutputMessage.Insert) d.decode(buffer());
        assertThat(i.xid()).isEqualTo(901);
        assertThat(i.relationId()).isEqualTo(16384);
        out.write('M');
        out.writeInt(900);
        out.write(1);
        out.writeLong(55);
        string("annals");
        out.writeInt(2);
        out.write("{}".getBytes(StandardCharsets.UTF_8));
        PgOutputMessage.Message m = (PgOutputMessage.Message) d.decode(buffer());
        assertThat(m.transactional()).isTrue();
        assertThat(m.prefix()).isEqualTo("annals");
        assertThat(new String(m.content(), StandardCharsets.UTF_8)).isEqualTo("{}");
        out.write('E');
        d.decode(buffer());
        // Outside the block, no xid precedes the relation id.
        out.write('D');
        out.writeInt(16384);
        out.write('K');
        out.writeShort(1);
        textColumn("7");
        PgOutputMessage.Delete del = (PgOutputMessage.Delete) d.decode(buffer());
        assertThat(del.xid()).isZero();
        assertThat(del.relationId()).isEqualTo(16384);
        out.write('c');
        out.writeInt(900);
        out.write(0);
        out.writeLong(100);
        out.writeLong(108);
        out.writeLong(999);
        assertThat(d.decode(buffer())).isEqualTo(new PgOutputMessage.StreamCommit(900, 0, 100, 108, 999));
        out.write('A');
        out.writeInt(902);
        out.writeInt(903);
        out.writeLong(1);   // protocol 4 parallel-streaming tail, ignored
        out.writeLong(2);
        assertThat(d.decode(buffer())).isEqualTo(new PgOutputMessage.StreamAbort(902, 903));
    }

    @Test
    void truncateListsEveryRelation() throws IOException {
        PgOutputDecoder d = new PgOutputDecoder(1);
        out.write('T');
        out.writeInt(2);
        out.write(3);
        out.writeInt(1);
        out.writeInt(2);
        PgOutputMessage.Truncate t = (PgOutputMessage.Truncate) d.decode(buffer());
        assertThat(t.relationIds()).containsExactly(1, 2);
        assertThat(t.options()).isEqualTo(3);
    }

    @Test
    void rejectsWhatItCannotDecode() {
        assertThatThrownBy(() -> new PgOutputDecoder(5)).hasMessageContaining("1 to 4");
        PgOutputDecoder v1 = new PgOutputDecoder(1);
        assertThatThrownBy(() -> v1.decode(ByteBuffer.wrap(new byte[]{'S', 0, 0, 0, 1, 1})))
                .isInstanceOf(PgOutputException.class).hasMessageContaining("protocol 2");
        assertThatThrownBy(() -> v1.decode(ByteBuffer.wrap(new byte[]{'Z'})))
                .isInstanceOf(PgOutputException.class).hasMessageContaining("Unknown pgoutput message type 'Z'");
    }
}
