package io.annals.benchmark;

import org.postgresql.PGConnection;
import org.postgresql.PGProperty;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;

import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A bare reader on its own slot that runs alongside the capture worker during the latency phase
 * and measures commit-to-received: for each transaction that changes the benchmark table, the time
 * from its commit (the commit timestamp in the pgoutput Begin message; besides that it reads only
 * message tags and the table's relation id) to its arrival here. That is
 * the part of commit-to-stored latency the server and the stream account for; the rest is the
 * worker's own. It adds a second walsender to the machine, so it is off unless asked for.
 */
final class StreamProbe {

    private static final long PG_EPOCH_MICROS = 946_684_800_000_000L;

    private final String url;
    private final String slot;
    private final String publication;
    private final int protocolVersion;
    private volatile boolean stop;
    private Thread thread;
    private volatile Throwable failure;
    private long[] latencies = new long[1 << 16];
    private int count;
    private final String table;
    private int relationId = -1;
    private long pending = -1;

    StreamProbe(String url, String slot, String publication, int protocolVersion, String table) {
        this.table = table;
        this.url = url;
        this.slot = slot;
        this.publication = publication;
        this.protocolVersion = protocolVersion;
    }

    /** Creates the slot now, so that the probe sees every transaction committed from here on. */
    StreamProbe start() throws SQLException {
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            s.execute("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
        }
        thread = Thread.ofPlatform().name("bench-probe").daemon().start(this::loop);
        return this;
    }

    private void loop() {
        Properties props = new Properties();
        try (Connection c = DriverManager.getConnection(url, props.get())) {
            PGReplicationStream stream = c.unwrap(PGConnection.class).getReplicationAPI().replicationStream().logical()
                    .withSlotName(slot)
                    .withStartPosition(LogSequenceNumber.valueOf(0))
                    .withSlotOption("proto_version", String.valueOf(protocolVersion))
                    .withSlotOption("publication_names", publication)
                    .withStatusInterval(1, TimeUnit.SECONDS)
                    .start();
            while (!stop) {
                ByteBuffer b = stream.readPending();
                if (b == null) {
                    LockSupport.parkNanos(200_000);
                    continue;
                }
                int p = b.position();
                switch (b.get(p)) {
                    case 'B' -> {
                        // Begin: final LSN (8 bytes), commit time (8), xid (4).
                        Instant now = Instant.now();
                        long nowMicros = now.getEpochSecond() * 1_000_000L + now.getNano() / 1000;
                        pending = nowMicros - (b.getLong(p + 9) + PG_EPOCH_MICROS);
                    }
                    case 'R' -> {
                        // Relation: id (4), then namespace and name as C strings.
                        int id = b.getInt(p + 1);
                        int q = p + 5;
                        while (b.get(q) != 0) q++;
                        int start = q + 1;
                        int end = start;
                        while (b.get(end) != 0) end++;
                        if (end - start == table.length()) {
                            boolean same = true;
                            for (int i = 0; i < table.length() && same; i++) same = b.get(start + i) == table.charAt(i);
                            if (same) relationId = id;
                        }
                    }
                    case 'I' -> {
                        // The first change of a transaction on the benchmark table: count its latency once.
                        if (pending >= 0 && b.getInt(p + 1) == relationId) {
                            if (count == latencies.length) latencies = Arrays.copyOf(latencies, count * 2);
                            latencies[count++] = pending;
                        }
                        pending = -1;
                    }
                    case 'C' -> {
                        pending = -1;
                        stream.setFlushedLSN(stream.getLastReceiveLSN());
                        stream.setAppliedLSN(stream.getLastReceiveLSN());
                    }
                    default -> { }
                }
            }
            stream.close();
        } catch (Throwable t) {
            failure = t;
        }
    }

    /** Stops, drops the slot, and returns the latencies in microseconds, sorted. */
    long[] finish() throws Exception {
        stop = true;
        thread.join(30_000);
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            for (int attempt = 0; ; attempt++) {
                try {
                    s.execute("SELECT pg_drop_replication_slot('" + slot + "')");
                    break;
                } catch (SQLException e) {
                    if (attempt >= 50) throw e;
                    Thread.sleep(100);
                }
            }
        }
        if (failure != null) throw new IllegalStateException("The stream probe failed", failure);
        long[] out = Arrays.copyOf(latencies, count);
        Arrays.sort(out);
        return out;
    }

    /** Connection properties for a replication connection. */
    private static final class Properties {
        java.util.Properties get() {
            java.util.Properties p = new java.util.Properties();
            PGProperty.REPLICATION.set(p, "database");
            PGProperty.ASSUME_MIN_SERVER_VERSION.set(p, "10");
            PGProperty.PREFER_QUERY_MODE.set(p, "simple");
            return p;
        }
    }
}
