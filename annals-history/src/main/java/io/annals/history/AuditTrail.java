package io.annals.history;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.annals.changelog.Position;
import io.annals.history.internal.ChangeLogReader;
import io.annals.history.internal.Makers;
import io.annals.history.internal.QuerySpec;
import io.annals.history.internal.TableName;
import io.annals.history.keyframes.Keyframes;
import io.annals.history.retention.Retention;
import io.annals.history.revert.Revert;
import io.annals.history.timetravel.AsOf;
import io.annals.history.timetravel.RowDiff;
import org.postgresql.ds.PGSimpleDataSource;

import javax.sql.DataSource;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * The audit trail of a database: typed, fluent queries over its change log ({@code annals.changes}).
 *
 * <p>Thread-safe and cheap to keep; every query borrows a connection from the data source only
 * while it runs (a {@link ChangeQuery#stream() stream} until it is closed).
 *
 * <pre>{@code
 * AuditTrail trail = AuditTrail.of("jdbc:postgresql://db/app?user=annals");
 * List<Change> history = trail.history("orders", Map.of("id", 7)).list();
 * List<Change> paid = trail.changes()
 *         .table("public.orders")
 *         .where(Image.AFTER, "status", "=", "paid")
 *         .between(Instants.parse("2026-11-01"), Instants.parse("2026-12-01"))
 *         .descending()
 *         .limit(100)
 *         .list();
 * }</pre>
 */
public final class AuditTrail {

    private final ChangeLogReader log;

    private AuditTrail(ChangeLogReader log) {
        this.log = log;
    }

    /** The audit trail of the change log reached through {@code dataSource}. */
    public static AuditTrail of(DataSource dataSource) {
        return new AuditTrail(new ChangeLogReader(dataSource, new ObjectMapper(), ConcurrentHashMap.newKeySet(), Change::read));
    }

    /** The audit trail of the change log in the database at {@code jdbcUrl} ({@code jdbc:postgresql:...}). */
    public static AuditTrail of(String jdbcUrl) {
        if (jdbcUrl == null || !jdbcUrl.startsWith("jdbc:postgresql:")) {
            throw new IllegalArgumentException("Not a PostgreSQL JDBC URL: '" + jdbcUrl
                    + "'; use e.g. jdbc:postgresql://localhost:5432/app?user=annals");
        }
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(jdbcUrl);
        ds.setApplicationName("annals-history");
        return of(ds);
    }

    /**
     * This trail, mapping images to Java types with {@code objectMapper} (for example one with
     * {@code JavaTimeModule} registered). Unknown properties are ignored whatever its settings;
     * the mapper itself is not modified.
     */
    public AuditTrail withObjectMapper(ObjectMapper objectMapper) {
        return new AuditTrail(log.withObjectMapper(objectMapper));
    }

    /** A query over every change in the log, oldest first; narrow it with the {@link ChangeQuery} methods. */
    public ChangeQuery changes() {
        return new ChangeQuery(log, QuerySpec.EVERYTHING);
    }

    /**
     * The history of one row, oldest change first: {@code changes().table(table).primaryKey(primaryKey)}.
     * Served by the change log's per-row index.
     */
    public ChangeQuery history(String table, Map<String, ?> primaryKey) {
        return changes().table(table).primaryKey(primaryKey);
    }

    /**
     * Time travel: the change log as it stood at {@code instant}, that is after every change
     * committed at or before it. The instant is resolved now, once, to the last position committed
     * at or before it (changes are stored in commit order, so position order is also time order and
     * the cut is the same whichever way it is described).
     *
     * <pre>{@code
     * Optional<JsonNode> order = trail.asOf(Instants.parse("2026-11-01 12:00")).row("orders", Map.of("id", 7));
     * }</pre>
     *
     * @see AsOf
     */
    public AsOf asOf(Instant instant) {
        Objects.requireNonNull(instant, "instant");
        return Makers.timeTravel().at(log, instant);
    }

    /**
     * Time travel: the change log as it stood right after the change at {@code position}
     * (every change at or before it).
     *
     * @see AsOf
     */
    public AsOf asOf(Position position) {
        Objects.requireNonNull(position, "position");
        return Makers.timeTravel().at(log, position);
    }

    /**
     * How {@code table} changed between two instants: every row added, removed or changed, with
     * column diffs, ordered by primary key. Each instant is resolved as by {@link #asOf(Instant)}.
     * The stream holds a connection until it is closed: use try-with-resources.
     *
     * <pre>{@code
     * try (Stream<RowDiff> diff = trail.diff("orders", Instants.parse("2026-11-01"), Instants.parse("2026-11-02"))) {
     *     diff.filter(d -> d.kind() == RowDiff.Kind.REMOVED).forEach(d -> System.out.println(d.before()));
     * }
     * }</pre>
     */
    public Stream<RowDiff> diff(String table, Instant from, Instant to) {
        Objects.requireNonNull(from, "from");
        Objects.requireNonNull(to, "to");
        if (to.isBefore(from)) {
            throw new IllegalArgumentException("A diff goes from an earlier instant to a later one, but " + from
                    + " is after " + to + "; swap them");
        }
        return Makers.timeTravel().diff(table, asOf(from), asOf(to));
    }

    /** How {@code table} changed between two positions of the change log (see {@link #diff(String, Instant, Instant)}). */
    public Stream<RowDiff> diff(String table, Position from, Position to) {
        return Makers.timeTravel().diff(table, asOf(from), asOf(to));
    }

    /**
     * Undoing one transaction: every change it made, reverted newest first (see {@link Revert}).
     *
     * <pre>{@code
     * trail.revertTransaction(812).plan().apply();
     * }</pre>
     */
    public Revert revertTransaction(long transactionId) {
        return revert(changes().transaction(transactionId));
    }

    /**
     * Undoing every change {@code changes} matches, for example one request's or one user's
     * changes in a time window:
     *
     * <pre>{@code
     * trail.revert(trail.changes()
     *         .contextContains(Map.of("user_id", 42))
     *         .between(Instants.parse("2026-11-24 09:00"), Instants.parse("2026-11-24 10:00")))
     *      .plan()
     *      .apply();
     * }</pre>
     *
     * The query's order is ignored (a revert goes newest first); a limit is refused, since undoing
     * an arbitrary part of a selection is rarely what is meant.
     */
    public Revert revert(ChangeQuery changes) {
        Objects.requireNonNull(changes, "changes");
        if (changes.spec.limit() != null) {
            throw new IllegalArgumentException("A revert undoes every matching change; remove limit(" + changes.spec.limit()
                    + ") from the query, or narrow it with a time or position range instead");
        }
        return Makers.reverts().of(log, changes.spec);
    }

    /**
     * Rolling {@code table} back to {@code instant}: every change of it committed after that
     * instant, reverted, so that it holds what it held then (conflicts aside: there are none unless
     * other changes are excluded from the selection).
     *
     * @throws HistoryException if the instant is before the change log begins (its state then is unknown)
     */
    public Revert revertTable(String table, Instant instant) {
        AsOf cut = asOf(instant);
        if (cut.position().isEmpty()) {
            throw new HistoryException("Cannot roll " + TableName.parse(table) + " back to " + instant + ": the change log"
                    + " begins after that instant, so what the table held then is unknown.");
        }
        return revertTable(table, cut.position().get());
    }

    /** Rolling {@code table} back to {@code position}: every change of it after that position, reverted. */
    public Revert revertTable(String table, Position position) {
        return revert(changes().table(table).after(position));
    }

    /**
     * Retention of this change log: drop partitions past an age after writing a baseline, so that
     * time travel from the cut-off on stays exact.
     *
     * <pre>{@code
     * trail.retention().keep(Duration.ofDays(90)).apply();
     * }</pre>
     *
     * @see Retention
     */
    public Retention retention() {
        return Makers.retentions().of(log);
    }

    /**
     * The keyframes of this change log: periodic copies of each table's live rows that make a
     * table as of any cut cost its rows plus the changes since the nearest keyframe, not its whole
     * history. Build, list and prune them, or start the background keyframer.
     *
     * <pre>{@code
     * try (Keyframer k = trail.keyframes().keyframer().everyChanges(100_000).start()) { ... }
     * }</pre>
     */
    public Keyframes keyframes() {
        return Makers.keyframes().of(log);
    }
}
