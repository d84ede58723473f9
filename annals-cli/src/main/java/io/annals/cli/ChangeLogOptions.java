package io.annals.cli;

import io.annals.embedded.EmbeddedPostgres;
import io.annals.history.AuditTrail;
import org.postgresql.ds.PGSimpleDataSource;
import picocli.CommandLine.Option;

import javax.sql.DataSource;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the change log is, for the commands that read it (history, as-of, diff, revert), named as
 * {@code run} and {@code status} name it: {@code --source} is the captured database, which holds
 * the change log too unless {@code --target} says otherwise; without either, the embedded
 * PostgreSQL that {@code annals run} started in {@code --data-dir}.
 *
 * <pre>{@code
 * try (ChangeLogOptions.Session session = db.open()) {
 *     session.trail().changes().limit(10).list();
 * }
 * }</pre>
 */
final class ChangeLogOptions {

    @Option(names = "--source", paramLabel = "<jdbc-url>",
            description = "JDBC URL of the captured database; it holds the change log too unless --target is given."
                    + " revert writes its compensating changes here; projections read their sources here.")
    String source;

    @Option(names = "--target", paramLabel = "<jdbc-url>",
            description = "JDBC URL of the database that holds schema annals, when it is not the source."
                    + " Default: the source.")
    String target;

    @Option(names = "--data-dir", paramLabel = "<dir>", defaultValue = ".annals/postgres",
            // On a line of its own: picocli would break the path after its leading dot.
            description = {"Without --source and --target: the embedded PostgreSQL of this data folder.",
                    "Default: ${DEFAULT-VALUE}"})
    Path dataDir;

    /**
     * The change log's database, and the captured database when it is another one (reverts write
     * there, projections read their sources there; {@code null}: the change log's own). An
     * embedded server started for the command is stopped again on close; one that was already
     * running is left running.
     */
    record Session(DataSource log, DataSource writeTo, EmbeddedPostgres embedded) implements AutoCloseable {
        /** The change log's audit trail. */
        AuditTrail trail() {
            return AuditTrail.of(log);
        }

        /** The captured database. */
        DataSource source() {
            return writeTo != null ? writeTo : log;
        }

        @Override
        public void close() {
            if (embedded != null) embedded.close();
        }
    }

    Session open() {
        if (source != null || target != null) {
            String log = target != null ? target : source;
            DataSource writeTo = source != null && target != null ? dataSource(source, "--source") : null;
            return new Session(dataSource(log, target != null ? "--target" : "--source"), writeTo, null);
        }
        if (!Files.exists(dataDir.resolve("PG_VERSION"))) {
            throw new IllegalArgumentException("No --source given and no embedded PostgreSQL in " + dataDir
                    + ". Pass --source <jdbc-url> (the captured database), or --data-dir of an embedded one.");
        }
        boolean wasRunning = EmbeddedPostgres.isRunningIn(dataDir);
        EmbeddedPostgres embedded = EmbeddedPostgres.builder().dataDirectory(dataDir).stopOnClose(!wasRunning).start();
        return new Session(dataSource(embedded.jdbcUrl("postgres"), "--data-dir"), null, embedded);
    }

    /** A data source of {@code url}, which {@code option} gave; refused when it is not PostgreSQL's. */
    static DataSource dataSource(String url, String option) {
        if (!url.startsWith("jdbc:postgresql:")) {
            throw new IllegalArgumentException(option + " '" + url + "' is not a PostgreSQL JDBC URL; use e.g."
                    + " jdbc:postgresql://host:5432/database?user=annals");
        }
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(url);
        ds.setApplicationName("annals-cli");
        return ds;
    }

    /**
     * These options as command-line words (with a leading space), so that a command line we print
     * for the user to run next reaches the same databases; quoted for a POSIX shell.
     */
    String asArguments() {
        StringBuilder out = new StringBuilder();
        if (source != null) out.append(" --source ").append(Output.shellWord(source));
        if (target != null) out.append(" --target ").append(Output.shellWord(target));
        if (source == null && target == null) {
            out.append(" --data-dir ").append(Output.shellWord(dataDir.toAbsolutePath().toString()));
        }
        return out.toString();
    }
}
