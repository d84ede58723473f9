package io.annals.changelog;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The change log has one owner: main code outside {@code annals-changelog} writes none of its
 * tables, and only {@code annals-history} (the audit trail's reads) names them at all. A source
 * scan of every module's main code, so that a new raw use fails the build.
 *
 * <p>There are no exceptions but the benchmarks' deliberate ones ({@link #BENCHMARKS}): every use
 * that predated the rule has moved behind the change log's API.
 */
class ChangeLogOwnershipTest {

    private static final Pattern TABLE = Pattern.compile(
            "annals\\.(changes|checkpoints|streamed_changes|feed_consumers|feed_checkpoints|change_partitions)\\b");
    /** What precedes a table in SQL that writes it. */
    private static final Pattern WRITE = Pattern.compile(
            "(?i)\\b(INSERT\\s+INTO|UPDATE|DELETE\\s+FROM|COPY|ALTER\\s+TABLE|DROP\\s+TABLE|TRUNCATE|VACUUM(\\s*\\([^)]*\\)|\\s+(FULL|FREEZE|VERBOSE|ANALYZE))*)\\s*$");
    /** What precedes a table in SQL that reads it (anything else is prose: Javadoc, help, messages). */
    private static final Pattern READ = Pattern.compile("(?i)(\\b(FROM|JOIN)\\s+|\\w+\\(')$");

    /**
     * Deliberate raw uses by benchmarks: verifying what was stored, reporting its size, measuring
     * the raw ceiling (a plain COPY of the same rows) beside the API, or what each index costs.
     */
    private static final Set<String> BENCHMARKS = Set.of(
            "annals-benchmark/ChangeLogWriteBenchmark.java: changes write",
            "annals-benchmark/CaptureBenchmark.java: changes read",
            "annals-benchmark/HistoryBenchmark.java: changes read",
            "annals-benchmark/FeedBenchmark.java: changes read",
            "annals-benchmark/WritePathBenchmark.java: changes read");

    @Test
    void onlyTheChangeLogWritesItsTablesAndOnlyTheAuditTrailReadsThem() throws IOException {
        Path root = Path.of("").toAbsolutePath().getParent();
        assertThat(root.resolve("annals-changelog")).isDirectory();
        Set<String> found = new TreeSet<>();
        List<Path> sources = new ArrayList<>();
        try (Stream<Path> modules = Files.list(root)) {
            for (Path module : modules.filter(m -> Files.isDirectory(m.resolve("src/main/java"))).toList()) {
                try (Stream<Path> files = Files.walk(module.resolve("src/main/java"))) {
                    sources.addAll(files.filter(f -> f.toString().endsWith(".java")).toList());
                }
            }
        }
        assertThat(sources).as("main sources scanned").hasSizeGreaterThan(50);
        for (Path file : sources) {
            String module = root.relativize(file).getName(0).toString();
            if (module.equals("annals-changelog")) continue;
            String text = Files.readString(file);
            Matcher m = TABLE.matcher(text);
            while (m.find()) {
                String before = text.substring(Math.max(0, m.start() - 40), m.start()).replaceAll("\"\\s*\\+\\s*\"", "")
                        .replaceAll("\\s+", " ");
                boolean write = WRITE.matcher(before).find();
                if (!write && !READ.matcher(before).find()) continue; // prose
                if (module.equals("annals-history") && !write) continue; // the audit trail reads the log
                String use = module + "/" + file.getFileName() + ": " + m.group(1) + (write ? " write" : " read");
                if (!BENCHMARKS.contains(use)) found.add(use);
            }
        }
        assertThat(found).as("raw uses of the change log's tables outside annals-changelog (move them behind its API)")
                .isEmpty();
    }
}
