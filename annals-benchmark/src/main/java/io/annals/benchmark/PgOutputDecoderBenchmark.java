package io.annals.benchmark;

import io.annals.capture.pgoutput.PgOutputDecoder;
import io.annals.capture.pgoutput.PgOutputMessage;
import io.annals.capture.pgoutput.Tuple;
import io.annals.capture.value.PgTypes;
import io.annals.capture.value.ValueConverter;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * Micro-benchmarks of the per-change work on the capture worker's reader thread, on the same row
 * shape as {@link CaptureBenchmark}: decoding a pgoutput Insert message, and decoding it plus
 * turning its four column texts into JSON values.
 *
 * <pre>
 * annals-benchmark/run jmh PgOutputDecoderBenchmark
 * annals-benchmark/run jmh -f 1 -wi 2 -i 3 PgOutputDecoderBenchmark   # quicker
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class PgOutputDecoderBenchmark {

    /** bench(id bigint, account int, amount numeric(12,2), note text). */
    private static final int[] TYPE_OIDS = {20, 23, 1700, 25};

    private ByteBuffer insert;
    private PgOutputDecoder decoder;
    private ValueConverter converter;
    private final StringBuilder scratch = new StringBuilder(64);

    @Setup
    public void setUp() throws IOException {
        insert = ByteBuffer.wrap(insertMessage(16_384, "123456", "456", "1234.56", "note 123456"));
        decoder = new PgOutputDecoder(4);
        converter = new ValueConverter(PgTypes.builtinsOnly());
    }

    /** Only the first byte, as the bare read does: the floor. */
    @Benchmark
    public byte peekTag() {
        return insert.get(0);
    }

    @Benchmark
    public PgOutputMessage decodeInsert() {
        insert.rewind();
        return decoder.decode(insert);
    }

    @Benchmark
    public void decodeAndConvert(Blackhole bh) {
        insert.rewind();
        PgOutputMessage.Insert m = (PgOutputMessage.Insert) decoder.decode(insert);
        Tuple t = m.newTuple();
        for (int i = 0; i < t.size(); i++) {
            scratch.setLength(0);
            converter.appendJson(scratch, TYPE_OIDS[i], t.text(i));
            bh.consume(scratch.toString());
        }
    }

    /** A pgoutput (protocol 1-4, not streamed) Insert message with text columns. */
    static byte[] insertMessage(int relationId, String... columns) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeByte('I');
        out.writeInt(relationId);
        out.writeByte('N');
        out.writeShort(columns.length);
        for (String c : columns) {
            byte[] v = c.getBytes(StandardCharsets.UTF_8);
            out.writeByte(Tuple.TEXT);
            out.writeInt(v.length);
            out.write(v);
        }
        out.flush();
        return bytes.toByteArray();
    }
}
