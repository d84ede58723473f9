package io.annals.cli;

import io.annals.testkit.Services;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code annals demo replication} runs master and replica end to end through the machine's RabbitMQ. */
class ReplicationDemoCommandTest {

    @Test
    void demoReplicationShowsABulkUpdateATombstoneAndARepair() {
        Services.requireRabbitMq();
        Cli demo = Cli.run("demo", "replication");
        assertThat(demo.exit()).as(demo.both()).isZero();
        assertThat(demo.out())
                .contains("message: SAVE author 1 revision 1", "     1 | ADA LOVELACE | 1815-12-10 | revision 1")
                .contains("message: DELETE author 2 revision 2")
                .contains("the tombstone keeps it out (1 ignored)")
                .contains("message: SAVE author 2 revision 0") // the late duplicate, printed as it travels
                .contains("missing [3], stale [], gone on the master [99]")
                .contains("Done; the demo's database and queues are gone.");
        String repaired = demo.out().substring(demo.out().indexOf("9. diff --repair"));
        // The fixes travel as messages too: a SYNC for the missing row and the edited one, a DELETE for the extra one.
        assertThat(repaired).contains("message: SYNC author 3 revision 1", "message: SYNC author 1 revision 1", "message: DELETE author 99 revision 1");
        assertThat(repaired).contains("     1 | ADA LOVELACE | 1815-12-10 | revision 1", "     3 | ZOë / CAROL | null | revision 1")
                .doesNotContain("not on the master", "edited by hand");
    }

    @Test
    void withoutABrokerTheDemoSaysHowToPointItAtOne() {
        Cli demo = Cli.run("demo", "replication", "--broker", "amqp://guest:guest@127.0.0.1:1/");
        assertThat(demo.exit()).isEqualTo(1);
        assertThat(demo.err()).contains("RabbitMQ is not reachable at 127.0.0.1:1", "--broker amqp://user:password@host:5672/");
    }
}
