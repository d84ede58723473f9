package io.annals.cli;

import io.annals.changelog.ChangeLog;
import io.annals.replication.Broker;
import io.annals.replication.CqrsDeadLetters;
import io.annals.replication.CqrsEntity;
import io.annals.replication.CqrsFiles;
import io.annals.replication.CqrsMaster;
import io.annals.replication.CqrsReplica;
import io.annals.replication.JdbcDataSource;
import io.annals.replication.ReplicaTable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code annals cqrs}: django-cqrs compatible replication over RabbitMQ, a thin layer over
 * {@link CqrsMaster}, {@link CqrsReplica} and {@link CqrsDeadLetters}.
 *
 * <pre>
 * annals cqrs master --source jdbc:postgresql://db/app?user=annals --entities master.json
 * annals cqrs consume --replica jdbc:mariadb://127.0.0.1/app?user=root --tables replica.json --queue svc --workers 4
 * annals cqrs dead-letters list --queue svc
 * </pre>
 */
@Command(name = "cqrs", mixinStandardHelpOptions = true,
        description = "CQRS replicas over RabbitMQ, wire-compatible with django-cqrs.",
        subcommands = {CqrsCommand.Master.class, CqrsCommand.Consume.class, CqrsCommand.DeadLetters.class, CqrsCommand.Sync.class,
                CqrsCommand.Dump.class, CqrsCommand.Load.class, CqrsCommand.Diff.class})
final class CqrsCommand {

    /** The broker and the master's side: the source, its change log, the entities file. */
    static final class MasterOptions {
        @Option(names = "--source", paramLabel = "<jdbc-url>", required = true,
                description = "JDBC URL of the captured database (with its change log unless --target).")
        String source;

        @Option(names = "--target", paramLabel = "<jdbc-url>", description = "JDBC URL of the change log, when not the source.")
        String target;

        @Option(names = "--entities", paramLabel = "<file>", required = true,
                description = "JSON file of the replicated entities (see docs/replication.md).")
        Path entities;

        @Option(names = "--broker", paramLabel = "<amqp-uri>", defaultValue = Broker.LOCAL,
                description = {"RabbitMQ.", "Default: ${DEFAULT-VALUE}"})
        String broker;

        @Option(names = "--decimals", paramLabel = "float|exact", defaultValue = "float",
                description = "Numerics as a Django master sends them (float) or exactly. Default: ${DEFAULT-VALUE}")
        String decimals;

        CqrsMaster.Builder builder() {
            CqrsMaster.Builder b = CqrsMaster.builder(ChangeLog.at(JdbcDataSource.of(target != null ? target : source)))
                    .source(JdbcDataSource.of(source)).broker(broker)
                    .decimals(Values.choice(CqrsMaster.Decimals.class, decimals, "--decimals"));
            for (CqrsEntity e : CqrsFiles.entities(entities)) b.entity(e);
            return b;
        }
    }

    /** Which rows of which entity: {@code --cqrs-id} and {@code --filter}. */
    static final class Selection {
        @Option(names = "--cqrs-id", required = true, description = "The entity.")
        String cqrsId;

        @Option(names = "--filter", paramLabel = "<json>", description = "Only rows with these column values (a JSON object).")
        String filter;
    }

    /** The replica's side: its database and tables file. */
    static final class ReplicaOptions {
        @Option(names = "--replica", paramLabel = "<jdbc-url>", required = true,
                description = "JDBC URL of the replica database (PostgreSQL or MariaDB).")
        String replica;

        @Option(names = "--tables", paramLabel = "<file>", required = true,
                description = "JSON file of the replica tables (see docs/replication.md).")
        Path tables;

        List<ReplicaTable> tables() {
            return CqrsFiles.replicaTables(tables);
        }
    }

    @Command(name = "master", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Publishes every committed change of the entities' tables to RabbitMQ, until stopped.")
    static final class Master implements Callable<Integer> {
        @Mixin
        MasterOptions options = new MasterOptions();

        @Option(names = "--feed-name", defaultValue = "cqrs-master", description = "Names the master's checkpoint. Default: ${DEFAULT-VALUE}")
        String feedName;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            CqrsMaster master = options.builder().feedName(feedName).start();
            untilStopped(master, out, "Publishing to " + options.broker.replaceAll(":[^:@/]*@", ":***@") + ".");
            return 0;
        }
    }

    @Command(name = "consume", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Applies the queue's messages to the replica tables, until stopped.")
    static final class Consume implements Callable<Integer> {
        @Mixin
        ReplicaOptions replica = new ReplicaOptions();

        @Option(names = "--queue", required = true, description = "The replica's queue (django-cqrs' CQRS['queue']).")
        String queue;

        @Option(names = "--broker", paramLabel = "<amqp-uri>", defaultValue = Broker.LOCAL, description = "RabbitMQ. Default: local")
        String broker;

        @Option(names = {"--workers", "-w"}, defaultValue = "1", description = "Parallel workers; one row's messages share one.")
        int workers;

        @Option(names = "--prefetch", defaultValue = "100", description = "Unacknowledged messages at most. Default: ${DEFAULT-VALUE}")
        int prefetch;

        @Option(names = "--max-retries", defaultValue = "5", description = "Retries before a dead letter. Default: ${DEFAULT-VALUE}")
        int maxRetries;

        @Option(names = "--tombstones", defaultValue = "7d", paramLabel = "<age>", description = "Keep tombstones this long (7d, 12h, P7D).")
        String tombstones;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            CqrsReplica.Builder b = CqrsReplica.builder(JdbcDataSource.of(replica.replica)).broker(broker).queue(queue)
                    .workers(workers).prefetch(prefetch).maxRetries(maxRetries).tombstonesKeptFor(RetentionCommand.parseAge(tombstones));
            for (ReplicaTable t : replica.tables()) b.table(t);
            CqrsReplica r = b.start();
            PrintWriter out = spec.commandLine().getOut();
            untilStopped(r, out, "Consuming queue " + queue + " with " + workers + " worker(s).");
            out.println(r.stats());
            return 0;
        }
    }

    @Command(name = "dead-letters", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Lists, dumps, retries or purges a replica queue's dead letters.")
    static final class DeadLetters implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "list|retry|dump|purge", description = "What to do.")
        String action;

        @Option(names = "--queue", required = true, description = "The replica's queue.")
        String queue;

        @Option(names = "--broker", paramLabel = "<amqp-uri>", defaultValue = Broker.LOCAL, description = "RabbitMQ. Default: local")
        String broker;

        @Option(names = "--limit", defaultValue = "20", description = "list: at most this many. Default: ${DEFAULT-VALUE}")
        int limit;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            try (CqrsDeadLetters dl = CqrsDeadLetters.open(Broker.factory(broker), queue)) {
                switch (action.toLowerCase(Locale.ROOT)) {
                    case "list" -> {
                        long total = dl.count();
                        for (CqrsDeadLetters.DeadLetter d : dl.list(limit)) {
                            out.println((d.cqrsId() == null ? "?" : d.cqrsId() + " " + d.pk()) + "  retries " + d.retries() + "  "
                                    + (d.error() == null ? "(no reason recorded)" : d.error()));
                        }
                        out.println(total + " dead letter(s) in " + "dead_letter_" + queue);
                    }
                    case "dump" -> dl.dump(out);
                    case "retry" -> out.println(dl.retry() + " dead letter(s) sent back to " + queue);
                    case "purge" -> out.println(dl.purge() + " dead letter(s) deleted");
                    default -> throw new IllegalArgumentException("Unknown action '" + action + "': use list, retry, dump or purge");
                }
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "sync", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Sends current rows as SYNC messages, to every replica or one queue.")
    static final class Sync implements Callable<Integer> {
        @Mixin
        MasterOptions options = new MasterOptions();

        @Mixin
        Selection rows = new Selection();

        @Option(names = "--queue", description = "Only to this replica's queue.")
        String queue;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            CqrsMaster.Builder master = options.builder();
            long n;
            try (ProgressDisplay progress = ProgressDisplay.start(spec.commandLine().getErr(), "sync " + rows.cqrsId, "rows",
                    master.count(rows.cqrsId, rows.filter))) {
                n = master.sync(rows.cqrsId, rows.filter, queue, progress);
            }
            spec.commandLine().getOut().println(n + " row(s) of " + rows.cqrsId + " sent" + (queue == null ? "" : " to " + queue));
            return 0;
        }
    }

    @Command(name = "dump", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Writes an entity's rows, one consistent snapshot, as JSON lines.")
    static final class Dump implements Callable<Integer> {
        @Mixin
        MasterOptions options = new MasterOptions();

        @Mixin
        Selection rows = new Selection();

        @Option(names = {"-o", "--output"}, paramLabel = "<file>", description = "Write here instead of standard output.")
        Path output;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            CqrsMaster.Builder master = options.builder();
            try (ProgressDisplay progress = ProgressDisplay.start(spec.commandLine().getErr(), "dump " + rows.cqrsId, "rows",
                    master.count(rows.cqrsId, rows.filter));
                 Writer w = output == null ? new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16)
                    : Files.newBufferedWriter(output)) {
                master.dump(rows.cqrsId, rows.filter, w, progress);
            }
            return 0;
        }
    }

    @Command(name = "load", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Applies a dump's lines to the replica tables.")
    static final class Load implements Callable<Integer> {
        @Mixin
        ReplicaOptions replica = new ReplicaOptions();

        @Option(names = {"-i", "--input"}, paramLabel = "<file>", required = true, description = "The dump; - for standard input.")
        String input;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            PrintWriter err = spec.commandLine().getErr();
            CqrsReplica.Builder b = CqrsReplica.builder(JdbcDataSource.of(replica.replica));
            for (ReplicaTable t : replica.tables()) b.table(t);
            CqrsReplica.LoadResult r;
            boolean file = !input.equals("-");
            try (ProgressDisplay progress = ProgressDisplay.start(err, "load " + (file ? Path.of(input).getFileName() : "standard input"), "lines");
                 CountingReader in = new CountingReader(file ? Files.newBufferedReader(Path.of(input))
                         : new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                long size = file ? Files.size(Path.of(input)) : -1;
                r = b.load(in, line -> err.println("annals: " + line), lines -> {
                    // The lines to come, estimated from the file's size and the characters per line so far (a dump is ASCII).
                    if (size > 0 && in.read > 0) progress.estimate(lines * size / in.read);
                    progress.accept(lines);
                });
            }
            spec.commandLine().getOut().println(r.applied() + " applied, " + r.ignored() + " older than the replica's, " + r.failed()
                    + " failed");
            return r.failed() == 0 ? 0 : 1;
        }
    }

    @Command(name = "diff", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Compares master and replica; --repair sends exactly the fixes.")
    static final class Diff implements Callable<Integer> {
        @Mixin
        MasterOptions options = new MasterOptions();

        @Option(names = "--cqrs-id", required = true, description = "The entity to compare.")
        String cqrsId;

        @Option(names = "--replica", paramLabel = "<jdbc-url>", required = true, description = "JDBC URL of the replica database.")
        String replica;

        @Option(names = "--replica-table", paramLabel = "<table>", description = "Its table. Default: the cqrs_id.")
        String table;

        @Option(names = "--repair", description = "Send a SYNC per missing or stale row, a DELETE per extra row.")
        boolean repair;

        @Option(names = "--queue", description = "Send the fixes to this replica's queue only.")
        String queue;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            ReplicaTable t = ReplicaTable.builder(cqrsId).table(table == null ? cqrsId : table).build();
            CqrsMaster.Builder master = options.builder();
            CqrsMaster.DiffResult d;
            try (ProgressDisplay progress = ProgressDisplay.start(spec.commandLine().getErr(), "diff " + cqrsId, "rows")) {
                progress.estimate(2 * master.count(cqrsId, null)); // the master's rows, then about as many on the replica
                d = master.diff(cqrsId, JdbcDataSource.of(replica), t, repair, queue, progress);
            }
            out.println("missing on the replica: " + d.missing() + (d.missingKeys().isEmpty() ? "" : " " + d.missingKeys()));
            out.println("stale on the replica:   " + d.stale() + (d.staleKeys().isEmpty() ? "" : " " + d.staleKeys()));
            out.println("gone on the master:     " + d.extra() + (d.extraKeys().isEmpty() ? "" : " " + d.extraKeys()));
            if (repair) out.println(d.sent() + " fix(es) sent");
            return d.clean() || repair ? 0 : 1;
        }
    }

    /** Says {@code what}, then waits for SIGINT or SIGTERM, and closes {@code worker} (which finishes what it has in hand). */
    static void untilStopped(AutoCloseable worker, PrintWriter out, String what) throws InterruptedException {
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                worker.close();
            } catch (Exception e) {
                // stopping anyway
            }
            done.countDown();
        }, "annals-cqrs-stop"));
        out.println(what + " Press Ctrl-C to stop.");
        out.flush();
        done.await();
    }

    /** Counts the characters read, for an estimate of the lines to come. */
    static final class CountingReader extends java.io.FilterReader {
        long read;

        CountingReader(Reader in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int c = super.read();
            if (c >= 0) read++;
            return c;
        }

        @Override
        public int read(char[] buf, int off, int len) throws IOException {
            int n = super.read(buf, off, len);
            if (n > 0) read += n;
            return n;
        }
    }
}
