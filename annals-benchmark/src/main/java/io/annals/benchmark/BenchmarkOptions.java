package io.annals.benchmark;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

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

    /** {@code --pg NAME=VALUE}: settings of the benchmark's own PostgreSQL, over two defaults. */
    static final class Pg {

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

        static final class Setting implements ITypeConverter<String> {
            @Override
            public String convert(String value) {
                if (value.indexOf('=') <= 0) throw new TypeConversionException("wants NAME=VALUE, not '" + value + "'");
                return value;
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
