package io.annals.testkit;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A RabbitMQ node of a test's own, started from the machine's {@code rabbitmq-server} install on
 * free ports, with its data under a temporary directory: a test may stop and start it (durable
 * queues and persistent messages survive, as on any broker restart) without touching the shared
 * broker on 5672. Skipped where RabbitMQ is not installed, failing instead under
 * {@code ANNALS_REQUIRE_SERVICES=1}.
 *
 * <pre>{@code
 * try (PrivateRabbitMq rabbit = PrivateRabbitMq.start()) {
 *     ConnectionFactory f = new ConnectionFactory();
 *     f.setUri(rabbit.uri());                  // amqp://guest:guest@127.0.0.1:<port>/
 *     rabbit.stop();                           // the broker is down
 *     rabbit.restart();                        // and up again, with its queues and messages
 * }
 * }</pre>
 */
public final class PrivateRabbitMq implements AutoCloseable {

    /** Where the Debian/Ubuntu package keeps the scripts that run as the calling user (not the {@code /usr/sbin} wrappers, which switch to user rabbitmq). */
    private static final List<Path> BIN = List.of(Path.of("/usr/lib/rabbitmq/bin"), Path.of("/usr/local/lib/rabbitmq/bin"),
            Path.of("/opt/rabbitmq/sbin"));
    private static final long START_TIMEOUT_SECONDS = 90;

    private final Path bin;
    private final Path dir;
    private final String node;
    private final int port;
    private final Map<String, String> env;
    private Process server;

    private PrivateRabbitMq(Path bin, Path dir, String node, int port, Map<String, String> env) {
        this.bin = bin;
        this.dir = dir;
        this.node = node;
        this.port = port;
        this.env = env;
    }

    /**
     * Starts a fresh node and waits until it accepts connections; skips the test (or fails it
     * under {@code ANNALS_REQUIRE_SERVICES=1}) when {@code rabbitmq-server} is not installed.
     */
    public static PrivateRabbitMq start() {
        Path bin = installation();
        String message = "rabbitmq-server is not installed (looked in " + BIN + " and $ANNALS_RABBITMQ_BIN)";
        if (bin == null && "1".equals(System.getenv(Services.REQUIRE))) {
            throw new AssertionError(message + ", and " + Services.REQUIRE + "=1 says the tests must have it: install the"
                    + " rabbitmq-server package or unset " + Services.REQUIRE + " to skip these tests");
        }
        Assumptions.assumeTrue(bin != null, message + "; skipped (set " + Services.REQUIRE + "=1 to fail instead)");
        try {
            Path dir = Files.createTempDirectory("annals-rabbitmq-");
            String node = "annals-" + UUID.randomUUID().toString().substring(0, 8) + "@localhost";
            int port = freePort();
            int distPort = freePort();
            Files.writeString(dir.resolve("enabled_plugins"), "[].\n");
            Files.writeString(dir.resolve("rabbitmq-env.conf"), ""); // not the machine's, which names the shared node
            // Not the machine's rabbitmq.conf either, which listens on the shared broker's port.
            Files.writeString(dir.resolve("rabbitmq.conf"), "listeners.tcp.1 = 127.0.0.1:" + port + "\nloopback_users = none\n");
            Map<String, String> env = Map.ofEntries(
                    Map.entry("RABBITMQ_NODENAME", node),
                    Map.entry("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1"),
                    Map.entry("RABBITMQ_NODE_PORT", Integer.toString(port)),
                    Map.entry("RABBITMQ_DIST_PORT", Integer.toString(distPort)),
                    Map.entry("RABBITMQ_MNESIA_BASE", dir.resolve("mnesia").toString()),
                    Map.entry("RABBITMQ_LOG_BASE", dir.resolve("log").toString()),
                    Map.entry("RABBITMQ_PID_FILE", dir.resolve("rabbitmq.pid").toString()),
                    Map.entry("RABBITMQ_ENABLED_PLUGINS_FILE", dir.resolve("enabled_plugins").toString()),
                    Map.entry("RABBITMQ_CONF_ENV_FILE", dir.resolve("rabbitmq-env.conf").toString()),
                    Map.entry("RABBITMQ_CONFIG_FILE", dir.resolve("rabbitmq.conf").toString()),
                    Map.entry("RABBITMQ_ADVANCED_CONFIG_FILE", dir.resolve("advanced.config").toString()),
                    Map.entry("ERL_EPMD_ADDRESS", "127.0.0.1"));
            PrivateRabbitMq rabbit = new PrivateRabbitMq(bin, dir, node, port, env);
            rabbit.restart();
            return rabbit;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code amqp://guest:guest@127.0.0.1:<port>/}. */
    public String uri() {
        return "amqp://guest:guest@127.0.0.1:" + port + "/";
    }

    /** The AMQP port. */
    public int port() {
        return port;
    }

    /** The Erlang node name, for {@code rabbitmqctl -n}. */
    public String node() {
        return node;
    }

    /** Starts the node again (its data directory kept) and waits until it accepts connections. */
    public synchronized void restart() {
        if (server != null && server.isAlive()) throw new IllegalStateException("RabbitMQ node " + node + " is already running");
        try {
            ProcessBuilder pb = new ProcessBuilder(bin.resolve("rabbitmq-server").toString()).directory(dir.toFile())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("server.out").toFile()));
            pb.environment().putAll(env);
            server = pb.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_TIMEOUT_SECONDS);
            while (!listening()) {
                if (!server.isAlive()) throw new IllegalStateException("RabbitMQ node " + node + " exited at start: " + tail());
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("RabbitMQ node " + node + " did not listen on " + port + " within "
                            + START_TIMEOUT_SECONDS + " s: " + tail());
                }
                Thread.sleep(100);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while starting RabbitMQ node " + node, e);
        }
    }

    /**
     * Stops the node as an operator does ({@code rabbitmqctl stop}: connections closed, queues
     * and persistent messages on disk) and waits until it has exited.
     */
    public synchronized void stop() {
        if (server == null || !server.isAlive()) return;
        try {
            ProcessBuilder pb = new ProcessBuilder(bin.resolve("rabbitmqctl").toString(), "-n", node, "stop")
                    .directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("ctl.out").toFile()));
            pb.environment().putAll(env);
            Process ctl = pb.start();
            if (!ctl.waitFor(60, TimeUnit.SECONDS)) ctl.destroyForcibly();
            if (!server.waitFor(60, TimeUnit.SECONDS)) {
                kill();
                throw new IllegalStateException("RabbitMQ node " + node + " did not stop within 60 s; killed it");
            }
            killLeftovers(); // the script's children (beam, erl_child_setup) normally go with it
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while stopping RabbitMQ node " + node, e);
        }
    }

    /** Stops the node (by force if it does not stop) and deletes its data. */
    @Override
    public void close() {
        try {
            stop();
        } catch (RuntimeException e) {
            kill();
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a leftover temporary directory costs disk space only
        }
    }

    private synchronized void kill() {
        if (server == null) return;
        server.descendants().forEach(ProcessHandle::destroyForcibly);
        server.destroyForcibly();
        killLeftovers();
    }

    private void killLeftovers() {
        if (server != null) server.descendants().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
    }

    private boolean listening() {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private String tail() {
        try {
            List<String> lines = Files.readAllLines(dir.resolve("server.out"));
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(no output: " + e.getMessage() + ")";
        }
    }

    private static Path installation() {
        String configured = System.getenv("ANNALS_RABBITMQ_BIN");
        Stream<Path> candidates = configured == null ? BIN.stream() : Stream.concat(Stream.of(Path.of(configured)), BIN.stream());
        return candidates.filter(p -> Files.isExecutable(p.resolve("rabbitmq-server")) && Files.isExecutable(p.resolve("rabbitmqctl")))
                .findFirst().orElse(null);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
