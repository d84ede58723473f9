package io.annals.replication;

import io.annals.capture.CaptureWorker;
import io.annals.changelog.ChangeLog;
import io.annals.replication.wire.SignalType;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** dump and load, sync to every replica or one queue, diff and repair, the declaration files. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ToolsTest extends BrokerAndDatabases {


    private String source() {
        String src = dbs.create("tools_src");
        TestPostgres.execute(src, "CREATE TABLE author (id int PRIMARY KEY, name text NOT NULL, active bool NOT NULL DEFAULT true)",
                "INSERT INTO author SELECT g, 'a' || g, g % 3 <> 0 FROM generate_series(1, 2500) g");
        ChangeLog.at(src).migrate();
        return src;
    }

    private static CqrsMaster.Builder master(String src) {
        return CqrsMaster.builder(ChangeLog.at(src)).broker(Broker.LOCAL).entity(CqrsEntity.builder(RabbitQueues.AUTHOR).table("author").build());
    }

    @Test
    void aDumpLoadsIntoAnEmptyReplicaAndABadFilterOrCqrsIdIsRefused() throws Exception {
        String src = source();
        StringWriter out = new StringWriter();
        List<Long> progress = new ArrayList<>();
        assertThat(master(src).dump(RabbitQueues.AUTHOR, null, out, progress::add)).isEqualTo(2500);
        assertThat(progress).endsWith(2500L);
        String[] lines = out.toString().split("\n");
        assertThat(lines).hasSize(2500);
        assertThat(lines[0]).startsWith("{\"signal_type\":\"SYNC\",\"cqrs_id\":\"" + RabbitQueues.AUTHOR + "\",\"instance_data\":{\"cqrs_revision\":0,");
        assertThat(master(src).dump(RabbitQueues.AUTHOR, "{\"active\": false}", new StringWriter(), n -> { })).isEqualTo(833);

        ReplicaTarget target = ReplicaTarget.of("postgres");
        target.execute("CREATE TABLE author (id int PRIMARY KEY, name text NOT NULL, active bool,"
                + " cqrs_revision int NOT NULL, cqrs_updated timestamptz NOT NULL)");
        List<String> errors = new ArrayList<>();
        // A line that breaks a constraint fails its whole batch on the wire; the batch is applied again line by line.
        int bad = out.toString().indexOf("\"name\":\"a1500\"");
        String file = out.toString().substring(0, bad) + "\"name\":null" + out.toString().substring(bad + "\"name\":\"a1500\"".length());
        CqrsReplica.LoadResult r = CqrsReplica.builder(target.dataSource()).table(ReplicaTable.builder(RabbitQueues.AUTHOR).table("author").build())
                .load(new StringReader(file + "{broken\n"), errors::add, n -> { });
        assertThat(r.applied()).isEqualTo(2499);
        assertThat(r.failed()).isEqualTo(2);
        assertThat(errors).hasSize(2);
        assertThat(errors.get(0)).startsWith("line 1500: ").contains("null value in column \"name\"");
        assertThat(errors.get(1)).startsWith("line 2501: The body is not JSON");
        assertThat(target.rows("SELECT count(*), sum(id) FROM author")).containsExactly("2499 | 3124750");
        // Loading it again: a SYNC is always applied (as django-cqrs does), and the rows come out the same.
        CqrsReplica.LoadResult again = CqrsReplica.builder(target.dataSource()).table(ReplicaTable.builder(RabbitQueues.AUTHOR).table("author").build())
                .load(new StringReader(out.toString()), e -> { }, n -> { });
        assertThat(again.applied()).isEqualTo(2500);
        assertThat(target.rows("SELECT count(*), sum(id) FROM author")).containsExactly("2500 | 3126250");

        assertThatThrownBy(() -> master(src).dump("nope", null, new StringWriter(), n -> { }))
                .hasMessage("Unknown cqrs_id 'nope'; this master replicates [" + RabbitQueues.AUTHOR + "]");
        assertThatThrownBy(() -> master(src).dump(RabbitQueues.AUTHOR, "{\"colour\": 1}", new StringWriter(), n -> { }))
                .hasMessageContaining("The filter names colour, which is not a column of public.author");
        assertThatThrownBy(() -> master(src).dump(RabbitQueues.AUTHOR, "[1]", new StringWriter(), n -> { }))
                .hasMessageContaining("The filter must be a JSON object");
        assertThatThrownBy(() -> master(src).dump(RabbitQueues.AUTHOR, "{id:", new StringWriter(), n -> { }))
                .hasMessageContaining("The filter is not JSON");
    }

    @Test
    void aSyncGoesToEveryReplicaOrToOneQueue() throws Exception {
        String src = source();
        String one = rabbit.replicaQueue("sync_one", RabbitQueues.AUTHOR);
        String other = rabbit.replicaQueue("sync_other", RabbitQueues.AUTHOR);
        // Author 7 was last sent long ago, with revision 4: a sync sends that revision and time, and is not expired on arrival.
        io.annals.replication.master.Revisions.migrate(JdbcDataSource.of(src));
        TestPostgres.execute(src, "INSERT INTO annals.cqrs_revisions VALUES ('" + RabbitQueues.AUTHOR + "', '7', 4, false, '2020-01-01 00:00:00+00', NULL)");
        assertThat(master(src).sync(RabbitQueues.AUTHOR, "{\"id\": 7}", null)).isEqualTo(1);
        assertThat(master(src).sync(RabbitQueues.AUTHOR, "{\"active\": false}", one)).isEqualTo(833);
        var toOne = RabbitQueues.decode(rabbit.take(one, 834, Duration.ofSeconds(10)));
        var toOther = RabbitQueues.decode(rabbit.take(other, 1, Duration.ofSeconds(10)));
        assertThat(toOne).hasSize(834).allMatch(m -> m.signalType() == SignalType.SYNC);
        assertThat(toOther).singleElement().satisfies(m -> {
            assertThat(m.instanceData().get("name").asText()).isEqualTo("a7");
            assertThat(m.revision()).isEqualTo(4);
            assertThat(m.instanceData().get("cqrs_updated").asText()).isEqualTo("2020-01-01 00:00:00+00:00");
            assertThat(m.expires()).isAfter(java.time.Instant.now().plus(Duration.ofHours(23)));
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"postgres", "mariadb"})
    void aDiffFindsMissingStaleAndExtraRowsAndTheRepairSendsExactlyTheFixes(String kind) throws Exception {
        String src = dbs.create("diff_src");
        TestPostgres.execute(src, "CREATE TABLE author (id int PRIMARY KEY, name text NOT NULL)");
        CaptureWorker capture = dbs.capture(src);
        ReplicaTarget target = ReplicaTarget.of(kind);
        String table = target.table("author");
        target.execute("CREATE TABLE " + table + " (id int PRIMARY KEY, name varchar(50) NOT NULL, cqrs_revision int NOT NULL,"
                + " cqrs_updated " + target.timestamp() + " NOT NULL)");
        String queue = rabbit.replicaQueue("diff");
        ReplicaTable replicaTable = ReplicaTable.builder(RabbitQueues.AUTHOR).table(table).build();
        try (CqrsMaster master = master(src).feedName("diff").start();
             CqrsReplica replica = CqrsReplica.builder(target.dataSource()).broker(Broker.LOCAL).queue(queue).table(replicaTable)
                     .tombstoneTable(target.table("tomb")).start()) {
            TestPostgres.execute(src, "INSERT INTO author SELECT g, 'a' || g FROM generate_series(1, 1500) g",
                    "UPDATE author SET name = name || '!' WHERE id <= 10");
            RoundTripTest.sync(capture, master, replica);
            CqrsMaster.DiffResult clean = master(src).diff(RabbitQueues.AUTHOR, target.dataSource(), replicaTable, false, null, n -> { });
            assertThat(clean.clean()).isTrue();
            // Manual edits on the replica: a row lost, a row set back, a row that the master never had.
            target.execute("DELETE FROM " + table + " WHERE id = 5",
                    "UPDATE " + table + " SET name = 'edited', cqrs_revision = 0 WHERE id = 6",
                    "INSERT INTO " + table + " VALUES (9999, 'ghost', 3, '2026-01-01 00:00:00')");
            CqrsMaster.DiffResult found = master(src).diff(RabbitQueues.AUTHOR, target.dataSource(), replicaTable, true, queue, n -> { });
            assertThat(found).extracting(CqrsMaster.DiffResult::missing, CqrsMaster.DiffResult::stale, CqrsMaster.DiffResult::extra,
                    CqrsMaster.DiffResult::sent).containsExactly(1L, 1L, 1L, 3L);
            assertThat(found.missingKeys()).containsExactly("5");
            assertThat(found.staleKeys()).containsExactly("6 (replica 0, master 1)");
            assertThat(found.extraKeys()).containsExactly("9999");
            assertThat(replica.awaitIdle(Duration.ofSeconds(20))).isTrue();
            assertThat(master(src).diff(RabbitQueues.AUTHOR, target.dataSource(), replicaTable, false, null, n -> { }).clean()).isTrue();
            assertThat(target.rows("SELECT name FROM " + table + " WHERE id IN (5, 6) ORDER BY id")).containsExactly("a5!", "a6!");
        } finally {
            target.close();
        }
    }

    /**
     * A key of two columns, one renamed on the replica, over more rows than a chunk: the diff finds
     * each kind of difference (an extra row that shares one key column with a real one among them),
     * and the repair sends exactly the fixes: the replica applies that many messages, ignores none,
     * and ends equal to the master row by row.
     */
    @ParameterizedTest
    @ValueSource(strings = {"postgres", "mariadb"})
    void aDiffOfACompositeKeyFindsEachDifferenceAndTheRepairSendsExactlyTheFixes(String kind) throws Exception {
        String line = "line_" + RabbitQueues.RUN;
        String src = dbs.create("diffkey_src");
        TestPostgres.execute(src, "CREATE TABLE line (order_id int, n int, sku text NOT NULL, qty int NOT NULL, PRIMARY KEY (order_id, n))");
        CaptureWorker capture = dbs.capture(src);
        ReplicaTarget target = ReplicaTarget.of(kind);
        String table = target.table("line");
        target.execute("CREATE TABLE " + table + " (order_id int NOT NULL, line_no int NOT NULL, sku varchar(50) NOT NULL, qty int NOT NULL,"
                + " cqrs_revision int NOT NULL, cqrs_updated " + target.timestamp() + " NOT NULL, PRIMARY KEY (order_id, line_no))");
        String queue = rabbit.replicaQueue("diffkey", line);
        ReplicaTable replicaTable = ReplicaTable.builder(line).table(table).rename("n", "line_no").build();
        CqrsMaster.Builder builder = CqrsMaster.builder(ChangeLog.at(src)).broker(Broker.LOCAL).entity(CqrsEntity.builder(line).table("line").build());
        try (CqrsMaster master = builder.feedName("diffkey").start();
             CqrsReplica replica = CqrsReplica.builder(target.dataSource()).broker(Broker.LOCAL).queue(queue).table(replicaTable)
                     .tombstoneTable(target.table("tomb")).start()) {
            TestPostgres.execute(src, "INSERT INTO line SELECT o, n, 'sku' || o || '-' || n, 1 FROM generate_series(1, 600) o,"
                    + " generate_series(1, 4) n", "UPDATE line SET qty = 2 WHERE order_id <= 3");
            RoundTripTest.sync(capture, master, replica);
            List<Long> progress = new ArrayList<>();
            assertThat(builder.diff(line, target.dataSource(), replicaTable, false, null, progress::add).clean()).isTrue();
            assertThat(progress).endsWith(4800L); // 2,400 rows on each side
            target.execute("DELETE FROM " + table + " WHERE order_id = 5 AND line_no = 2",
                    "UPDATE " + table + " SET qty = 9, cqrs_revision = 0 WHERE order_id = 2 AND line_no = 3",
                    "INSERT INTO " + table + " VALUES (9999, 1, 'ghost', 1, 0, '2026-01-01 00:00:00')",
                    "INSERT INTO " + table + " VALUES (7, 5, 'ghost', 1, 0, '2026-01-01 00:00:00')");
            CqrsMaster.DiffResult found = builder.diff(line, target.dataSource(), replicaTable, false, null, n -> { });
            assertThat(found).extracting(CqrsMaster.DiffResult::missing, CqrsMaster.DiffResult::stale, CqrsMaster.DiffResult::extra,
                    CqrsMaster.DiffResult::sent).containsExactly(1L, 1L, 2L, 0L);
            assertThat(found.missingKeys()).containsExactly("{\"order_id\":5,\"n\":2}");
            assertThat(found.staleKeys()).containsExactly("{\"order_id\":2,\"n\":3} (replica 0, master 1)");
            assertThat(found.extraKeys()).containsExactlyInAnyOrder("{\"order_id\":9999,\"n\":1}", "{\"order_id\":7,\"n\":5}");

            CqrsReplica.Stats before = replica.stats();
            CqrsMaster.DiffResult repaired = builder.diff(line, target.dataSource(), replicaTable, true, queue, n -> { });
            assertThat(repaired.sent()).isEqualTo(4);
            assertThat(replica.awaitIdle(Duration.ofSeconds(20))).isTrue();
            CqrsReplica.Stats after = replica.stats();
            assertThat(after.applied() - before.applied()).as("fixes applied").isEqualTo(4);
            assertThat(after.ignored() - before.ignored()).as("messages the replica had no use for").isZero();
            assertThat(builder.diff(line, target.dataSource(), replicaTable, false, null, n -> { }).clean()).isTrue();
            assertThat(target.rows("SELECT concat_ws('|', order_id, line_no, sku, qty, cqrs_revision) FROM " + table + " ORDER BY order_id, line_no"))
                    .containsExactlyElementsOf(TestPostgres.rows(src, "SELECT concat_ws('|', l.order_id, l.n, l.sku, l.qty, r.revision)"
                            + " FROM line l JOIN annals.cqrs_revisions r ON r.cqrs_id = '" + line + "'"
                            + " AND r.pk::jsonb = jsonb_build_object('order_id', l.order_id, 'n', l.n) ORDER BY l.order_id, l.n"));
        } finally {
            target.close();
        }
    }

    @Test
    void declarationFilesSayWhatIsWrong(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path good = dir.resolve("master.json");
        Files.writeString(good, """
                {"entities": [{"cqrs_id": "author", "table": "public.author"},
                  {"cqrs_id": "book", "table": "book", "fields": {"id": "id", "title": "title", "author": "author_id"},
                   "previous_data": ["title"], "is_sync": {"draft": false}}]}""");
        List<CqrsEntity> entities = CqrsFiles.entities(good);
        assertThat(entities).extracting(CqrsEntity::cqrsId).containsExactly("author", "book");
        assertThat(entities.get(1).columns()).containsEntry("author_id", "author");
        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, "{\"entities\": [{\"cqrs_id\": \"a\", \"tabel\": \"x\"}]}");
        assertThatThrownBy(() -> CqrsFiles.entities(bad)).hasMessageContaining("entities[0]: unknown key \"tabel\"");
        Files.writeString(bad, "{\"tables\": [{\"cqrs_id\": \"author\", \"renames\": {\"name\": \"full_name\"}}]}");
        assertThat(CqrsFiles.replicaTables(bad)).singleElement().satisfies(t -> assertThat(t.column("name")).isEqualTo("full_name"));
        assertThatThrownBy(() -> CqrsFiles.entities(bad)).hasMessageContaining("needs a non-empty array \"entities\"");
        assertThatThrownBy(() -> CqrsFiles.entities(dir.resolve("none.json"))).hasMessageStartingWith("No such file");
    }
}
