package io.annals.testkit;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * Services outside the JVM that some tests need (RabbitMQ, MariaDB): such a test is skipped where
 * the service is absent, and fails instead when {@code ANNALS_REQUIRE_SERVICES=1} (CI), so that a
 * missing service can never turn a red build green.
 *
 * <pre>{@code
 * @BeforeAll
 * static void broker() {
 *     Services.requireRabbitMq();          // 127.0.0.1:5672, guest/guest
 * }
 * }</pre>
 */
public final class Services {

    /** The environment variable that turns a missing service from a skip into a failure. */
    public static final String REQUIRE = "ANNALS_REQUIRE_SERVICES";

    private Services() {
    }

    /** RabbitMQ on 127.0.0.1:5672 (guest/guest): skips, or fails on CI, when it is not listening. */
    public static void requireRabbitMq() {
        require("RabbitMQ", "127.0.0.1", 5672);
    }

    /** MariaDB on 127.0.0.1:3306 (root, empty password, database {@code test}): skips, or fails on CI. */
    public static void requireMariaDb() {
        require("MariaDB", "127.0.0.1", 3306);
    }

    /** The JDBC URL of the machine's MariaDB test database. */
    public static String mariaDbUrl() {
        return "jdbc:mariadb://127.0.0.1:3306/test?user=root&password=";
    }

    private static void require(String name, String host, int port) {
        boolean up = listening(host, port);
        String message = name + " is not listening on " + host + ":" + port;
        if (!up && "1".equals(System.getenv(REQUIRE))) {
            throw new AssertionError(message + ", and " + REQUIRE + "=1 says the tests must have it: start it"
                    + " (.ci/run does) or unset " + REQUIRE + " to skip these tests");
        }
        Assumptions.assumeTrue(up, message + "; skipped (set " + REQUIRE + "=1 to fail instead)");
    }

    private static boolean listening(String host, int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
