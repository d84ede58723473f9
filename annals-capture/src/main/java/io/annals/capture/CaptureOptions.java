package io.annals.capture;

import io.annals.changelog.CrashPoint;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Everything the capture worker needs to know. Build with {@link #builder(String)}.
 *
 * <pre>{@code
 * CaptureOptions options = CaptureOptions.builder("jdbc:postgresql://localhost/app?user=annals")
 *         .exclude(List.of("public.sessions"))
 *         .omitColumns(List.of("*.password"))
 *         .build();
 * }</pre>
 *
 * @param sourceUrl           JDBC URL of the database whose changes are captured
 * @param targetUrl           JDBC URL of the database holding schema {@code annals}; the source by default
 * @param slotName            logical replication slot, also the checkpoint's consumer name; null means
 *                            {@code annals_<database>}, since slot names are unique per cluster
 * @param publicationName     publication the slot streams
 * @param snapshot            whether the first start takes a baseline of existing rows
 * @param tables              which tables are captured
 * @param columns             which columns are omitted or masked
 * @param replicaIdentityFull set REPLICA IDENTITY FULL on captured tables, for full before images
 * @param streaming           ask the server to stream large transactions before they commit (PostgreSQL 14+)
 * @param batchSize           changes per change-log transaction, at most
 * @param linger              how long a batch gathers changes at least before it goes to a free writer
 *                            (zero: at once); see {@link Builder#linger}
 * @param heartbeatInterval   how long the source may be idle before a heartbeat message moves the slot
 * @param walWarningBytes     retained WAL above which a loud warning is logged
 * @param meterRegistry       where metrics go
 * @param crashPoint          failure injection, for tests
 */
public record CaptureOptions(
        String sourceUrl,
        String targetUrl,
        String slotName,
        String publicationName,
        SnapshotMode snapshot,
        TableFilter tables,
        ColumnPolicy columns,
        boolean replicaIdentityFull,
        boolean streaming,
        int batchSize,
        Duration linger,
        Duration heartbeatInterval,
        long walWarningBytes,
        MeterRegistry meterRegistry,
        CrashPoint crashPoint) {

    public CaptureOptions {
        Objects.requireNonNull(sourceUrl, "sourceUrl");
        if (targetUrl == null) targetUrl = sourceUrl;
        if (slotName != null && !slotName.matches("[a-z0-9_]{1,63}")) {
            throw new IllegalArgumentException("Slot name '" + slotName
                    + "' is not valid: use 1 to 63 lower-case letters, digits and underscores");
        }
        if (!publicationName.matches("[A-Za-z0-9_]{1,63}")) {
            throw new IllegalArgumentException("Publication name '" + publicationName
                    + "' is not valid: use 1 to 63 letters, digits and underscores");
        }
        if (batchSize < 1) throw new IllegalArgumentException("batchSize must be positive, not " + batchSize);
        if (linger == null) linger = Duration.ZERO;
        if (linger.isNegative() || linger.compareTo(MAX_LINGER) > 0) {
            throw new IllegalArgumentException("linger must be between 0 and " + MAX_LINGER.toMillis() + " ms (it adds"
                    + " up to that much to every change's latency), not " + linger.toNanos() / 1e6 + " ms");
        }
    }

    /** The longest {@link Builder#linger} allowed: beyond it, latency grows for little more saved. */
    public static final Duration MAX_LINGER = Duration.ofSeconds(1);

    /** The slot name used when none is given: {@code annals_} and the database name, made a valid slot name. */
    public static String defaultSlotName(String database) {
        String name = "annals_" + database.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
        return name.length() > 63 ? name.substring(0, 63) : name;
    }

    /** Starts options for capturing from {@code sourceUrl}. */
    public static Builder builder(String sourceUrl) {
        return new Builder(sourceUrl);
    }

    /** A builder with these options, to change a few. */
    public Builder toBuilder() {
        Builder b = new Builder(sourceUrl);
        b.targetUrl = targetUrl;
        b.slotName = slotName;
        b.publicationName = publicationName;
        b.snapshot = snapshot;
        b.includes = tables.includes();
        b.excludes = tables.excludes();
        b.omit = columns.omit();
        b.mask = columns.mask();
        b.replicaIdentityFull = replicaIdentityFull;
        b.streaming = streaming;
        b.batchSize = batchSize;
        b.linger = linger;
        b.heartbeatInterval = heartbeatInterval;
        b.walWarningBytes = walWarningBytes;
        b.meterRegistry = meterRegistry;
        b.crashPoint = crashPoint;
        return b;
    }

    /** Builds {@link CaptureOptions}; every setting has a sensible default. */
    public static final class Builder {
        private final String sourceUrl;
        private String targetUrl;
        private String slotName;
        private String publicationName = "annals";
        private SnapshotMode snapshot = SnapshotMode.INITIAL;
        private List<String> includes = List.of();
        private List<String> excludes = List.of();
        private List<String> omit = List.of();
        private List<String> mask = List.of();
        private boolean replicaIdentityFull;
        private boolean streaming = true;
        private int batchSize = 10_000;
        private Duration linger = Duration.ZERO;
        private Duration heartbeatInterval = Duration.ofSeconds(10);
        private long walWarningBytes = 1L << 30;
        private MeterRegistry meterRegistry = Metrics.globalRegistry;
        private CrashPoint crashPoint = CrashPoint.NONE;

        private Builder(String sourceUrl) {
            this.sourceUrl = sourceUrl;
        }

        public Builder target(String url) { this.targetUrl = url; return this; }
        public Builder slot(String name) { this.slotName = name; return this; }
        public Builder publication(String name) { this.publicationName = name; return this; }
        public Builder snapshot(SnapshotMode mode) { this.snapshot = mode; return this; }
        public Builder include(List<String> patterns) { this.includes = patterns; return this; }
        public Builder exclude(List<String> patterns) { this.excludes = patterns; return this; }
        public Builder omitColumns(List<String> patterns) { this.omit = patterns; return this; }
        public Builder maskColumns(List<String> patterns) { this.mask = patterns; return this; }
        public Builder replicaIdentityFull(boolean full) { this.replicaIdentityFull = full; return this; }
        public Builder streaming(boolean on) { this.streaming = on; return this; }
        public Builder batchSize(int size) { this.batchSize = size; return this; }

        /**
         * How long a batch gathers changes at least before it goes to the writer (default zero).
         * With zero, a batch goes as soon as the writer is free, so at a moderate rate each stored
         * batch holds a few source transactions and costs a change-log transaction of its own (a
         * few round trips and a WAL flush); a linger of a few milliseconds stores several times
         * more per batch, for less CPU per change, and adds up to that much to each change's
         * latency. A full batch, a sync or a large transaction's commit goes at once regardless.
         *
         * <pre>{@code
         * CaptureOptions.builder(url).linger(Duration.ofMillis(10)).build();
         * }</pre>
         */
        public Builder linger(Duration d) { this.linger = d; return this; }
        public Builder heartbeatInterval(Duration d) { this.heartbeatInterval = d; return this; }
        public Builder walWarningBytes(long bytes) { this.walWarningBytes = bytes; return this; }
        public Builder meterRegistry(MeterRegistry r) { this.meterRegistry = r; return this; }
        public Builder crashPoint(CrashPoint p) { this.crashPoint = p; return this; }

        public CaptureOptions build() {
            return new CaptureOptions(sourceUrl, targetUrl, slotName, publicationName, snapshot,
                    TableFilter.of(includes, excludes), ColumnPolicy.of(omit, mask), replicaIdentityFull,
                    streaming, batchSize, linger, heartbeatInterval, walWarningBytes, meterRegistry, crashPoint);
        }
    }
}
