package io.annals.cli;

import io.annals.changelog.ChangeLog;
import io.annals.projections.Projection;
import io.annals.projections.ProjectionProvider;
import io.annals.projections.Projections;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Where the {@code annals projections} commands work: the change log and the captured database
 * (as the history commands find them), and the database the read tables live in.
 *
 * <pre>{@code
 * try (ProjectionOptions.Session s = where.open()) {
 *     s.projections().status();
 * }
 * }</pre>
 */
final class ProjectionOptions {

    @Mixin
    ChangeLogOptions db;

    @Option(names = "--output", paramLabel = "<jdbc-url>",
            description = "JDBC URL of the database the read tables live in, with the projections' checkpoints and"
                    + " quarantine. Default: the source.")
    String output;

    /** The databases, open for one command; an embedded server started for it stops on close. */
    record Session(ChangeLogOptions.Session databases, Projections projections) implements AutoCloseable {
        @Override
        public void close() {
            databases.close();
        }
    }

    Session open() {
        // Checked before an embedded server is started for nothing.
        javax.sql.DataSource out = output == null ? null : ChangeLogOptions.dataSource(output, "--output");
        ChangeLogOptions.Session databases = db.open();
        Projections.Builder b = Projections.over(ChangeLog.at(databases.log())).source(databases.source());
        if (out != null) b.output(out);
        return new Session(databases, b.build());
    }

    /** These options as command-line words, for a command line printed for the user to run next. */
    String asArguments() {
        return db.asArguments() + (output == null ? "" : " --output " + Output.shellWord(output));
    }

    /**
     * Which projections a command works on: the Java ones that {@link ProjectionProvider}s on the
     * class path define, and the SQL ones of {@code --file}.
     *
     * <pre>{@code
     * List<Projection> all = definitions.load(null);           // every one found
     * List<Projection> one = definitions.load("journal_entry"); // or an error naming those found
     * }</pre>
     */
    static final class Definitions {

        @Option(names = "--file", paramLabel = "<json-file>",
                description = "JSON file declaring SQL projections (see docs/projections.md).")
        Path file;

        @Option(names = "--class-path", paramLabel = "<jar|dir>", split = ":",
                description = "Jars or folders holding Java projections (ProjectionProviders listed in"
                        + " META-INF/services), besides the CLI's own class path.")
        List<Path> classPath = List.of();

        /** The projections found, or the one named {@code name} (null: all). */
        List<Projection> load(String name) {
            List<Projection> found = new ArrayList<>(ProjectionProvider.discover(classLoader()));
            Set<String> javaNames = new TreeSet<>();
            for (Projection p : found) javaNames.add(p.name());
            if (file != null) {
                for (Projection p : ProjectionFile.read(file)) {
                    if (javaNames.contains(p.name())) {
                        throw new IllegalArgumentException("Projection " + p.name() + " is declared in " + file
                                + " and also in Java on the class path; rename one of them");
                    }
                    found.add(p);
                }
            }
            if (found.isEmpty()) {
                throw new IllegalArgumentException("No projections found: give --file <projections.json> for SQL"
                        + " projections, or --class-path <jar> with a ProjectionProvider for Java ones");
            }
            if (name == null) return found;
            List<Projection> named = found.stream().filter(p -> p.name().equals(name)).toList();
            if (named.isEmpty()) {
                throw new IllegalArgumentException("No projection is named " + name + "; those found are "
                        + String.join(", ", found.stream().map(Projection::name).toList())
                        + (file == null ? " (give --file for SQL projections)" : ""));
            }
            return named;
        }

        private ClassLoader classLoader() {
            ClassLoader cli = Thread.currentThread().getContextClassLoader();
            if (classPath.isEmpty()) return cli;
            List<URL> urls = new ArrayList<>();
            for (Path p : classPath) {
                if (!Files.exists(p)) {
                    throw new IllegalArgumentException("--class-path " + p + " does not exist; give a jar or a folder of"
                            + " classes holding ProjectionProviders");
                }
                try {
                    urls.add(p.toUri().toURL());
                } catch (MalformedURLException e) {
                    throw new IllegalArgumentException("--class-path " + p + " is not a usable path: " + e.getMessage());
                }
            }
            // Never closed: the projections' mappers load classes from it for as long as the command runs.
            return new URLClassLoader(urls.toArray(URL[]::new), cli);
        }
    }
}
