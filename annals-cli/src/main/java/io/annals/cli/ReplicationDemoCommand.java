package io.annals.cli;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.changelog.ChangeLog;
import io.annals.embedded.EmbeddedPostgres;
import io.annals.replication.Broker;
import io.annals.replication.CqrsEntity;
import io.annals.replication.CqrsMaster;
import io.annals.replication.CqrsReplica;
import io.annals.replication.JdbcDataSource;
import io.annals.replication.ReplicaTable;
import io.annals.replication.wire.CqrsMessage;
import io.annals.replication.wire.CqrsTopology;
import io.annals.replication.wire.CqrsWire;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeoutException;

/**
 * {@code annals demo replication}: a master and a replica on a throwaway embedded PostgreSQL,
 * through the machine's RabbitMQ. Shows a bulk UPDATE reaching the replica, a delete that a late
 * duplicate SAVE cannot undo, and a diff and repair after a manual edit of the replica.
 */
@Command(name = "replication", mixinStandardHelpOptions = true,
        description = "Start an embedded PostgreSQL, replicate a table to another database over RabbitMQ "
                + "(django-cqrs format): bulk UPDATE, delete + late SAVE, diff and repair.")
final class ReplicationDemoCommand implements Callable<Integer> {

    @Option(names = "--broker", paramLabel = "<amqp-uri>", defaultValue = Broker.LOCAL, description = "RabbitMQ. Default: local")
    String broker;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        ConnectionFactory factory = Broker.factory(broker);
        Connection amqp;
        try {
            amqp = factory.newConnection("annals demo");
        } catch (IOException | TimeoutException e) {
            spec.commandLine().getErr().println("annals: RabbitMQ is not reachable at " + factory.getHost() + ":" + factory.getPort()
                    + " (" + e.getMessage() + "). Start one (e.g. 'rabbitmq-server -detached') or point the demo at one:"
                    + " annals demo replication --broker amqp://user:password@host:5672/");
            return 1;
        }
        Path dir = Files.createTempDirectory("annals-demo-cqrs");
        dir.toFile().setExecutable(true, false);
        dir.toFile().setReadable(true, false);
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        String queue = "annals_demo_" + suffix;
        String tap = "annals_demo_tap_" + suffix;
        try (amqp; Channel ch = amqp.createChannel();
             EmbeddedPostgres pg = EmbeddedPostgres.builder().dataDirectory(dir.resolve("postgres")).start()) {
            try (java.sql.Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE shop");
                s.execute("CREATE DATABASE reporting");
            }
            sql(pg, "shop", "CREATE TABLE author (id int PRIMARY KEY, name text NOT NULL, born date)",
                    "INSERT INTO author VALUES (1, 'Ada Lovelace', '1815-12-10'), (2, 'Charles Babbage', '1791-12-26'),"
                            + " (3, 'Zoë / Carol', NULL)");
            sql(pg, "reporting", "CREATE TABLE author (id int PRIMARY KEY, name text NOT NULL, born date,"
                    + " cqrs_revision int NOT NULL, cqrs_updated timestamptz NOT NULL)");
            out.println("1. Embedded PostgreSQL " + pg.majorVersion() + ": database shop (the master's, with table author) and"
                    + " database reporting (the replica's); RabbitMQ at " + factory.getHost() + ":" + factory.getPort());
            // A second queue bound like the replica's, and to what is sent to the replica's queue only, to print what travels.
            CqrsTopology.declareReplicaQueues(ch, tap, List.of("author"));
            ch.queueBind(tap, CqrsTopology.EXCHANGE, CqrsTopology.queueRoutingKey(queue, "author"));
            String shop = pg.jdbcUrl("shop");
            CqrsEntity author = CqrsEntity.builder("author").table("author").build();
            ReplicaTable replicaTable = ReplicaTable.builder("author").build();
            try (CaptureWorker capture = CaptureWorker.start(CaptureOptions.builder(shop).heartbeatInterval(Duration.ofMillis(200)).build());
                 CqrsMaster master = CqrsMaster.builder(ChangeLog.at(shop)).broker(factory).entity(author).feedName("demo").start();
                 CqrsReplica replica = CqrsReplica.builder(JdbcDataSource.of(pg.jdbcUrl("reporting"))).broker(factory).queue(queue)
                         .table(replicaTable).workers(2).start()) {
                out.println("2. Capture, the master (cqrs_id author) and the replica (queue " + queue + ") are running.");
                List<CqrsMessage> first = step(out, "3. The rows that existed (capture's snapshot) reach the replica:", pg, ch, tap,
                        capture, master, replica);

                sql(pg, "shop", "UPDATE author SET name = upper(name)");
                step(out, "4. A bulk UPDATE (UPDATE author SET name = upper(name)), one statement, no ORM:", pg, ch, tap, capture,
                        master, replica);

                sql(pg, "shop", "DELETE FROM author WHERE id = 2");
                step(out, "5. DELETE FROM author WHERE id = 2:", pg, ch, tap, capture, master, replica);
                CqrsMessage late = first.stream().filter(m -> m.instancePk().asInt() == 2).findFirst().orElseThrow();
                ch.basicPublish(CqrsTopology.EXCHANGE, CqrsTopology.queueRoutingKey(queue, "author"), CqrsTopology.properties(),
                        CqrsWire.encode(late));
                long ignoredBefore = replica.stats().ignored();
                replica.awaitIdle(Duration.ofSeconds(30));
                out.println("6. A late duplicate of author 2's first SAVE (revision " + late.revision() + ") arrives after the delete;"
                        + " the tombstone keeps it out (" + (replica.stats().ignored() - ignoredBefore) + " ignored):");
                drain(out, ch, tap);
                printRows(out, pg);

                sql(pg, "reporting", "UPDATE author SET name = 'edited by hand' WHERE id = 1", "DELETE FROM author WHERE id = 3",
                        "INSERT INTO author VALUES (99, 'not on the master', NULL, 0, now())");
                out.println("7. Someone edits the replica by hand (author 1 renamed, author 3 deleted, author 99 added):");
                printRows(out, pg);
                CqrsMaster.Builder tools = CqrsMaster.builder(ChangeLog.at(shop)).broker(factory).entity(author);
                CqrsMaster.DiffResult d = tools.diff("author", JdbcDataSource.of(pg.jdbcUrl("reporting")), replicaTable, false, null,
                        n -> { });
                out.println("8. annals cqrs diff: missing " + d.missingKeys() + ", stale " + d.staleKeys() + ", gone on the master "
                        + d.extraKeys());
                out.println("   (author 1 has the master's revision, so a diff by revision cannot see the edit; a sync repairs it)");
                long sent = tools.diff("author", JdbcDataSource.of(pg.jdbcUrl("reporting")), replicaTable, true, queue, n -> { }).sent();
                sent += tools.sync("author", "{\"id\": 1}", queue);
                step(out, "9. diff --repair and sync --filter '{\"id\": 1}' --queue " + queue + " sent " + sent + " message(s):", pg, ch,
                        tap, capture, master, replica);
            }
            ch.queueDelete(tap);
            ch.queueDelete(CqrsTopology.deadLetterQueue(tap));
            ch.queueDelete(queue);
            ch.queueDelete(CqrsTopology.deadLetterQueue(queue));
        } finally {
            DemoCommand.deleteRecursively(dir);
        }
        out.println("Done; the demo's database and queues are gone. Guide: docs/replication.md");
        out.flush();
        return 0;
    }

    /** Waits for capture, master and replica, then prints the messages that travelled and the replica's rows. */
    private static List<CqrsMessage> step(PrintWriter out, String title, EmbeddedPostgres pg, Channel ch, String tap, CaptureWorker capture,
                                          CqrsMaster master, CqrsReplica replica) throws Exception {
        capture.awaitCaughtUp(Duration.ofSeconds(30));
        master.awaitCaughtUp(Duration.ofSeconds(30));
        replica.awaitIdle(Duration.ofSeconds(30));
        out.println(title);
        List<CqrsMessage> seen = drain(out, ch, tap);
        printRows(out, pg);
        out.flush();
        return seen;
    }

    /** Prints each message in the tap (signal type, cqrs_id, instance_pk, revision, data) and returns them. */
    private static List<CqrsMessage> drain(PrintWriter out, Channel ch, String tap) throws IOException {
        List<CqrsMessage> seen = new ArrayList<>();
        for (GetResponse r; (r = ch.basicGet(tap, true)) != null; ) {
            CqrsMessage m = CqrsWire.decode(r.getBody());
            seen.add(m);
            out.println("   message: " + m.signalType() + " " + m.cqrsId() + " " + m.instancePk() + " revision " + m.revision()
                    + " " + m.instanceData());
        }
        return seen;
    }

    private static void printRows(PrintWriter out, EmbeddedPostgres pg) throws Exception {
        try (java.sql.Connection c = pg.connect("reporting"); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT id, name, born, cqrs_revision FROM author ORDER BY id")) {
            out.println("   replica rows:");
            while (rs.next()) {
                out.println("     " + rs.getInt(1) + " | " + rs.getString(2) + " | " + rs.getString(3) + " | revision " + rs.getInt(4));
            }
        }
    }

    private static void sql(EmbeddedPostgres pg, String db, String... statements) throws Exception {
        try (java.sql.Connection c = pg.connect(db); Statement s = c.createStatement()) {
            for (String q : statements) s.execute(q);
        }
    }
}
