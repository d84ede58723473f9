package io.annals.changelog;

import io.annals.testkit.TestPostgres;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** annals.changes is partitioned by commit time: the V2 migration, and partitions created ahead of writes. */
class PartitioningTest {

    static List<String> rows(String url, String sql) {
        return TestPostgres.rows(url, sql);
    }

    static String scalar(String url, String sql) {
        return rows(url, sql).get(0);
    }

    static ChangeRow row(long lsn, long ordinal, Instant at) {
        return new ChangeRow(Position.of(lsn, ordinal), 700 + lsn, at, "app", "public", "t", Operation.CREATE,
                "{\"id\": " + lsn + "}", null, "{\"id\": " + lsn + "}", List.of("id"), "{}");
    }

    /** The partitions as "name [from, to)" in UTC, in order. */
    static List<String> partitions(String url) {
        return rows(url, "SELECT name || ' [' || to_char(from_time AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ', '"
                + " || to_char(to_time AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ')' FROM annals.change_partitions ORDER BY from_time");
    }

    @Test
    void theMigrationConvertsAPopulatedV1LogLosslessly() {
        String url = TestPostgres.newDatabase("changelog_v1_to_v2");
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(url);
        Flyway.configure().dataSource(ds).schemas(ChangeLog.SCHEMA).createSchemas(true)
                .locations("classpath:io/annals/changelog/migration").target("1").load().migrate();
        // 14 months of changes, every kind of value, an id gap (a deleted row) and identity values
        // consumed by a rolled-back insert (the sequence is ahead of max(id)).
        TestPostgres.execute(url,
                "INSERT INTO annals.changes (position, transaction_id, committed_at, database, \"schema\", \"table\","
                        + " operation, primary_key, before, after, changed_columns, context)"
                        + " SELECT upper(lpad(to_hex(g * 16), 16, '0')) || '.' || lpad(to_hex(g % 3), 8, '0'), g,"
                        + " timestamptz '2025-01-15 12:34:56.789012+00' + g * interval '1 day', 'app', 'public',"
                        + " 't' || g % 4, (ARRAY['CREATE','UPDATE','DELETE','TRUNCATE','SNAPSHOT'])[g % 5 + 1],"
                        + " CASE WHEN g % 5 = 3 THEN NULL ELSE jsonb_build_object('id', g) END,"
                        + " CASE WHEN g % 2 = 0 THEN jsonb_build_object('id', g, 'price', 10.50) END,"
                        + " jsonb_build_object('id', g, 'note', E'tab\\there \"quoted\"', 'n', g * 1.5),"
                        + " CASE WHEN g % 3 = 0 THEN NULL ELSE ARRAY['id', 'a \"b\"'] END,"
                        + " jsonb_build_object('user_id', g % 7)"
                        + " FROM generate_series(1, 420) g",
                "DELETE FROM annals.changes WHERE id = 17",
                "INSERT INTO annals.changes (position, transaction_id, committed_at, database, \"schema\", \"table\", operation)"
                        + " VALUES ('0000000000000001.00000000', 1, '1999-12-31 23:59:59.999999+00', 'app', 'public', 't0', 'TRUNCATE')",
                "BEGIN",
                "INSERT INTO annals.changes (position, transaction_id, committed_at, database, \"schema\", \"table\", operation)"
                        + " SELECT 'X' || g, 0, now(), 'app', 's', 't', 'CREATE' FROM generate_series(1, 5) g",
                "ROLLBACK");
        String everything = "SELECT id, position, transaction_id, committed_at, database, \"schema\", \"table\", operation,"
                + " primary_key::text, before::text, after::text, changed_columns::text, context::text"
                + " FROM annals.changes ORDER BY id";
        List<String> before = rows(url, everything);
        assertThat(before).hasSize(420);

        ChangeLog.at(url).migrate();

        assertThat(rows(url, everything)).containsExactlyElementsOf(before);
        assertThat(scalar(url, "SELECT relkind FROM pg_class WHERE oid = 'annals.changes'::regclass")).isEqualTo("p");
        List<String> parts = partitions(url);
        // one per month holding rows: none for the 25 empty years between the stray 1999 row and the rest
        assertThat(parts).hasSize(16).startsWith("changes_19991201 [1999-12-01, 2000-01-01)",
                "changes_20250101 [2025-01-01, 2025-02-01)");
        assertThat(parts).last().isEqualTo("changes_20260301 [2026-03-01, 2026-04-01)");
        // every row sits in the partition of its month
        assertThat(scalar(url, "SELECT count(*) FROM annals.changes c JOIN annals.change_partitions p"
                + " ON c.tableoid = ('annals.' || p.name)::regclass AND c.committed_at >= p.from_time AND c.committed_at < p.to_time"))
                .isEqualTo("420");
        // ids keep counting after the rolled-back ones
        TestPostgres.execute(url, "INSERT INTO annals.changes (position, transaction_id, committed_at, database, \"schema\","
                + " \"table\", operation) VALUES ('0000000000009999.00000000', 1, '2026-02-02', 'app', 's', 't', 'CREATE')");
        assertThat(scalar(url, "SELECT max(id) FROM annals.changes")).isEqualTo("427");
        // the same change cannot be stored twice, and the indexes are all there on every partition
        assertThatThrownBy(() -> TestPostgres.execute(url, "INSERT INTO annals.changes (position, transaction_id,"
                + " committed_at, database, \"schema\", \"table\", operation) VALUES ('0000000000009999.00000000', 1,"
                + " '2026-02-02', 'app', 's', 't', 'CREATE')"))
                .hasMessageContaining("changes_")
                .hasMessageContaining("duplicate key value violates unique constraint");
        assertThat(rows(url, "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'annals.changes'::regclass ORDER BY 1"))
                .containsExactly("annals.changes_committed_at_idx", "annals.changes_key_change_idx", "annals.changes_pkey",
                        "annals.changes_position_key", "annals.changes_row_history_idx", "annals.changes_snapshot_idx",
                        "annals.changes_transaction_idx");
        assertThat(rows(url, "SELECT indexrelid::regclass::text FROM pg_index"
                + " WHERE indrelid = 'annals.changes_20250101'::regclass ORDER BY 1"))
                .containsExactly("annals.changes_committed_at_idx_20250101", "annals.changes_key_change_idx_20250101",
                        "annals.changes_pkey_20250101", "annals.changes_position_key_20250101",
                        "annals.changes_row_history_idx_20250101", "annals.changes_snapshot_idx_20250101",
                        "annals.changes_transaction_idx_20250101");
        assertThat(scalar(url, "SELECT count(*) FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indrelid"
                + " WHERE h.inhparent = 'annals.changes'::regclass")).isEqualTo(String.valueOf(16 * 7));
    }

    @Test
    void anEmptyLogGetsNoPartitionsUntilSomethingIsWritten() {
        String url = TestPostgres.newDatabase("changelog_empty_v2");
        ChangeLog.at(url).migrate();
        assertThat(partitions(url)).isEmpty();
        assertThat(ChangeLog.at(url).partitionInterval()).isEqualTo(PartitionInterval.MONTH);
    }

    @Test
    void theWriterCreatesPartitionsForAnyCommitTimeIncludingFarPastAndFuture() throws SQLException {
        String url = TestPostgres.newDatabase("changelog_writer_partitions");
        ChangeLog log = ChangeLog.at(url);
        log.migrate();
        try (ChangeLogWriter w = log.openWriter("annals", c -> { })) {
            w.write(List.of(row(1, 0, Instant.parse("1970-01-01T00:00:00Z")), row(2, 0, Instant.parse("2026-11-30T23:59:59.999999Z")),
                    row(3, 0, Instant.parse("2026-12-01T00:00:00Z")), row(4, 0, Instant.parse("2199-12-31T23:59:59Z"))), 0);
            w.write(List.of(row(5, 0, Instant.parse("2026-11-15T00:00:00Z"))), 0);
            // a streamed transaction moved in from staging gets its partition too
            ChangeRow staged = row(6, 0, Instant.EPOCH);
            w.stage(List.of(new StagedChange(706, staged)));
            assertThat(w.commitStaged(706, 6, Instant.parse("1999-06-30T12:00:00Z"), "app", 7, w.checkpoint().orElse(null)))
                    .isEqualTo(1);
        }
        assertThat(partitions(url)).containsExactly(
                "changes_19700101 [1970-01-01, 1970-02-01)",
                "changes_19990601 [1999-06-01, 1999-07-01)",
                "changes_20261101 [2026-11-01, 2026-12-01)",
                "changes_20261201 [2026-12-01, 2027-01-01)",
                "changes_21991201 [2199-12-01, 2200-01-01)");
        assertThat(rows(url, "SELECT tableoid::regclass::text || ' ' || transaction_id FROM annals.changes ORDER BY position"))
                .containsExactly("annals.changes_19700101 701", "annals.changes_20261101 702", "annals.changes_20261201 703",
                        "annals.changes_21991201 704", "annals.changes_20261101 705", "annals.changes_19990601 706");
    }

    @Test
    void aRowWithNoPartitionIsRefusedLoudly() {
        String url = TestPostgres.newDatabase("changelog_no_partition");
        ChangeLog.at(url).migrate();
        assertThatThrownBy(() -> TestPostgres.execute(url, "INSERT INTO annals.changes (position, transaction_id,"
                + " committed_at, database, \"schema\", \"table\", operation) VALUES ('0000000000000001.00000000', 1,"
                + " '1800-01-01', 'app', 's', 't', 'CREATE')"))
                .hasMessageContaining("no partition of relation \"changes\" found for row");
        assertThat(scalar(url, "SELECT count(*) FROM annals.changes")).isEqualTo("0");
    }

    @Test
    void writersRacingToCreateTheSamePartitionsCreateEachOnce() throws Exception {
        String url = TestPostgres.newDatabase("changelog_partition_race");
        ChangeLog.at(url).migrate();
        int writers = 4;
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < writers; i++) {
                done.add(pool.submit(() -> {
                    start.await();
                    ChangeLog.at(url).preparePartitions(Instant.parse("2024-01-10T00:00:00Z"), Instant.parse("2026-12-31T00:00:00Z"));
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) f.get();
        } finally {
            pool.shutdown();
        }
        List<String> parts = partitions(url);
        assertThat(parts).hasSize(36).doesNotHaveDuplicates();
        assertThat(parts.get(0)).isEqualTo("changes_20240101 [2024-01-01, 2024-02-01)");
        assertThat(scalar(url, "SELECT string_agg(indexrelid::regclass::text, ', ' ORDER BY indexrelid::regclass::text) FROM pg_index"
                + " WHERE indrelid = 'annals.changes_20261201'::regclass"))
                .isEqualTo("annals.changes_committed_at_idx_20261201, annals.changes_key_change_idx_20261201,"
                        + " annals.changes_pkey_20261201, annals.changes_position_key_20261201,"
                        + " annals.changes_row_history_idx_20261201, annals.changes_snapshot_idx_20261201,"
                        + " annals.changes_transaction_idx_20261201");
    }

    @Test
    void aNewIntervalAppliesToNewPartitionsAndOnlyFillsGaps() {
        String url = TestPostgres.newDatabase("changelog_partition_interval");
        ChangeLog log = ChangeLog.at(url);
        log.migrate();
        log.preparePartitions(Instant.parse("2026-11-10T00:00:00Z"), Instant.parse("2026-11-10T00:00:00Z"));
        log.partitionInterval(PartitionInterval.WEEK);
        assertThat(log.partitionInterval()).isEqualTo(PartitionInterval.WEEK);
        log.preparePartitions(Instant.parse("2026-10-28T00:00:00Z"), Instant.parse("2026-12-10T00:00:00Z"));
        // 2026-10-26 and 2026-11-30 are Mondays: the weeks around November stop at the month's partition
        assertThat(partitions(url)).containsExactly(
                "changes_20261026 [2026-10-26, 2026-11-01)",
                "changes_20261101 [2026-11-01, 2026-12-01)",
                "changes_20261201 [2026-12-01, 2026-12-07)",
                "changes_20261207 [2026-12-07, 2026-12-14)");
    }

    @Test
    void badInputGetsClearErrors() {
        String url = TestPostgres.newDatabase("changelog_partition_errors");
        ChangeLog log = ChangeLog.at(url);
        log.migrate();
        assertThatThrownBy(() -> TestPostgres.execute(url, "SELECT annals.set_partition_interval('fortnight')"))
                .hasMessageContaining("Unknown partition interval 'fortnight' for annals.changes")
                .hasMessageContaining("Use one of day, week, month, quarter, year.");
        assertThatThrownBy(() -> TestPostgres.execute(url, "UPDATE annals.partitioning SET unit = 'fortnight'"))
                .hasMessageContaining("partitioning_unit_check");
        assertThatThrownBy(() -> log.preparePartitions(Instant.parse("2026-12-01T00:00:00Z"), Instant.parse("2026-11-01T00:00:00Z")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("The range of commit times ends (2026-11-01T00:00:00Z) before it begins (2026-12-01T00:00:00Z)");
        assertThatThrownBy(() -> TestPostgres.execute(url, "SELECT annals.create_change_partitions('2026-01-01', 'infinity')"))
                .hasMessageContaining("need two finite instants");
        assertThat(partitions(url)).isEmpty();
    }
}
