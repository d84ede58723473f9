package io.annals.benchmark;

import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** What the end-to-end benchmarks print alike: verdicts, the server's settings, the machine's load. */
final class BenchmarkSupport {

    private BenchmarkSupport() {
    }

    /** The arguments the command line was given, all of them, subcommand included: for the report. */
    static String[] arguments(CommandSpec spec) {
        return spec.root().commandLine().getParseResult().originalArgs().toArray(String[]::new);
    }

    static String verdict(boolean met, String line) {
        String result = line + (met ? "  [met]" : "  [NOT met]");
        System.out.println(result);
        return result;
    }

    static String settings(String url) throws Exception {
        List<String> parts = new ArrayList<>();
        try (Connection c = java.sql.DriverManager.getConnection(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT 'PostgreSQL ' || current_setting('server_version') || ': ' || string_agg(name || '=' || setting, ' ' ORDER BY name)"
                     + " FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'wal_level')")) {
            while (rs.next()) parts.add(rs.getString(1));
        }
        return String.join(" ", parts);
    }

    /**
     * Drops a replication slot, retrying for up to 10 s while the walsender that used it is still
     * releasing it (a reader that has just exited leaves it active for a moment).
     */
    static void dropSlot(String url, String slot) throws Exception {
        try (Connection c = java.sql.DriverManager.getConnection(url); Statement s = c.createStatement()) {
            for (int attempt = 0; ; attempt++) {
                try {
                    s.execute("SELECT pg_drop_replication_slot('" + slot + "')");
                    return;
                } catch (java.sql.SQLException e) {
                    if (attempt >= 100) throw e;
                    Thread.sleep(100);
                }
            }
        }
    }

    static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (IOException e) {
            return "unknown";
        }
    }

    /**
     * The pg_recvlogical to run as the reference logical consumer: {@code given}, else the newest
     * installed PostgreSQL's ({@code /usr/lib/postgresql/N/bin}), else the PATH's; null when none.
     * An older client streams from a newer server: pgoutput and its options are the server's.
     */
    static String findRecvLogical(String given) {
        if (given != null) return given;
        try (var dirs = Files.list(Path.of("/usr/lib/postgresql"))) {
            Path best = dirs.map(d -> d.resolve("bin/pg_recvlogical")).filter(Files::isExecutable)
                    .max(Comparator.comparingInt(p -> {
                        try {
                            return Integer.parseInt(p.getParent().getParent().getFileName().toString());
                        } catch (NumberFormatException e) {
                            return 0;
                        }
                    })).orElse(null);
            if (best != null) return best.toString();
        } catch (IOException e) {
            // Not a Debian-style layout: try the PATH.
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            Path p = Path.of(dir, "pg_recvlogical");
            if (Files.isExecutable(p)) return p.toString();
        }
        return null;
    }

    /** What {@code binary --version} prints, or the binary's path when it cannot say. */
    static String version(String binary) {
        try {
            Process p = new ProcessBuilder(binary, "--version").redirectErrorStream(true).start();
            String v = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
            p.waitFor();
            return v;
        } catch (IOException e) {
            return binary;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return binary;
        }
    }

    /** The newest pgoutput protocol a server of this {@code server_version_num} speaks, as capture asks for it. */
    static int protocolVersion(int serverVersionNum) {
        return serverVersionNum >= 160000 ? 4 : serverVersionNum >= 150000 ? 3 : serverVersionNum >= 140000 ? 2 : 1;
    }

    /**
     * pg_recvlogical streaming {@code slot} to /dev/null with capture's plugin options (the same
     * protocol, the publication, logical messages), exiting on any error rather than retrying
     * ({@code --no-loop}); {@code extra} arguments follow.
     */
    static List<String> recvLogicalCommand(String binary, int port, String database, String slot, int protocolVersion,
                                           String publication, String... extra) {
        List<String> command = new ArrayList<>(List.of(binary, "-h", "127.0.0.1", "-p", String.valueOf(port), "-U", "postgres",
                "-d", database, "-S", slot, "--start", "--no-loop", "-f", "/dev/null", "--plugin=pgoutput",
                "-o", "proto_version=" + protocolVersion, "-o", "publication_names=" + publication, "-o", "messages=true"));
        command.addAll(List.of(extra));
        return command;
    }

    static void deleteRecursively(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // A temp folder.
        }
    }
}
