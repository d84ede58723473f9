package io.annals.replication;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * Tests that need the machine's RabbitMQ (skipped where it is absent, failing on CI) and fresh
 * databases with capture: each test gets its own queues and databases, gone after it.
 */
abstract class BrokerAndDatabases {

    Databases dbs;
    RabbitQueues rabbit;

    @BeforeEach
    void openBrokerAndDatabases() throws Exception {
        rabbit = new RabbitQueues();
        dbs = new Databases();
    }

    @AfterEach
    void closeBrokerAndDatabases() throws Exception {
        if (dbs != null) dbs.close();
        if (rabbit != null) rabbit.close();
    }
}
