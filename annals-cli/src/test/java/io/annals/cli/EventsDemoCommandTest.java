package io.annals.cli;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code annals demo events} runs the bank account end to end on an embedded PostgreSQL. */
class EventsDemoCommandTest {

    @Test
    void demoEventsReplaysTimeTravelsRebuildsAndSnapshots() {
        Cli demo = Cli.run("demo", "events");
        assertThat(demo.exit()).as(demo.both()).isZero();
        assertThat(demo.out())
                .contains("AccountOpened", "MoneyDeposited", "MoneyWithdrawn")
                .contains("{\"user_id\": 7, \"request_id\": \"req-2003\"}")
                .contains("Balance rebuilt by replaying 4 events: 100")
                .contains("after version 1 (AccountOpened): 0", "after version 2 (MoneyDeposited): 50",
                        "after version 3 (MoneyDeposited): 175", "after version 4 (MoneyWithdrawn): 100")
                .contains("Dropped the read state (TRUNCATE, checkpoint reset): (empty)")
                .contains("Recovered from the events: account-alice-1 (alice) = 100.00")
                .contains("Took a snapshot at version 4", "snapshot version 4, 0 events replayed): balance 100");
    }
}
