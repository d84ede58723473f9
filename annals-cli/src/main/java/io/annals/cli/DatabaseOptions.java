package io.annals.cli;

import io.annals.embedded.EmbeddedPostgres;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;

/** Where the source and target are; without --source, the embedded PostgreSQL. */
final class DatabaseOptions {

    @Option(names = "--source", paramLabel = "<jdbc-url>",
            description = "JDBC URL of the database to capture. Without it, an embedded PostgreSQL 18 is started.")
    String source;

    @Option(names = "--target", paramLabel = "<jdbc-url>",
            description = "JDBC URL of the database that holds schema annals. Default: the source.")
    String target;

    @Option(names = "--data-dir", paramLabel = "<dir>", defaultValue = ".annals/postgres",
            // On a line of its own: picocli would break the path after its leading dot.
            description = {"Data folder of the embedded PostgreSQL (kept across restarts).", "Default: ${DEFAULT-VALUE}"})
    Path dataDir;

    @Option(names = "--port", paramLabel = "<port>", defaultValue = "0",
            description = "Port of the embedded PostgreSQL; 0 picks a free one.")
    int port;

    @Option(names = "--slot", paramLabel = "<name>",
            description = "Logical replication slot (also names the checkpoint). Default: annals_<database>.")
    String slot;

    EmbeddedPostgres embedded;

    /** The source URL, starting the embedded server when none was given. */
    String resolveSource(PrintWriter out, boolean stopOnExit) {
        if (source != null) return source;
        embedded = EmbeddedPostgres.builder().dataDirectory(dataDir).port(port).stopOnClose(stopOnExit).start();
        String url = embedded.jdbcUrl("postgres");
        out.println("Embedded PostgreSQL " + embedded.majorVersion() + " is running; applications can connect with:");
        out.println("  " + url);
        out.flush();
        return url;
    }
}
