package io.annals.projections;

import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** Rebuilds while the sources keep changing and the live projection keeps running. */
class RebuildTest {

    private static final Duration WAIT = Duration.ofSeconds(60);

    @Test
    void aRebuildWhileWritesContinueLosesAndDoublesNothingAcrossTheSwap() throws Exception {
        try (Captured db = new Captured("proj_rebuild", Wave.SOURCES)) {
            db.execute(Wave.READ_TABLES);
            db.execute("INSERT INTO customer SELECT g, 'c' || g FROM generate_series(1, 20) g",
                    "INSERT INTO income SELECT g, g % 5, g, 'memo ' || g, DATE '2026-01-01' + g % 300 FROM generate_series(1, 3000) g",
                    "INSERT INTO invoice (id, business_id, customer_id, issued_on) SELECT g, 1, 1 + g % 20, DATE '2026-01-01'"
                            + " FROM generate_series(1, 500) g",
                    "INSERT INTO invoice_item SELECT g, 1 + g % 500, 'i', g % 97 FROM generate_series(1, 2000) g");
            Projections projections = Projections.over(db.changeLog).pollInterval(Duration.ofMillis(100)).build();
            Projection ft = Wave.financialTransactions();
            Projection journal = Wave.journal();
            try (RunningProjection liveFt = projections.start(ft); RunningProjection liveJournal = projections.start(journal)) {
                db.sync();
                assertThat(liveFt.awaitCaughtUp(WAIT)).isTrue();
                AtomicBoolean writing = new AtomicBoolean(true);
                AtomicReference<Throwable> failure = new AtomicReference<>();
                AtomicLong writes = new AtomicLong();
                Thread load = Thread.ofPlatform().start(() -> {
                    Random r = new Random(7);
                    try (Connection c = Captured.dataSource(db.url).getConnection(); Statement s = c.createStatement()) {
                        for (int i = 0; writing.get(); i++) {
                            int id = 1 + r.nextInt(3_500);
                            switch (r.nextInt(5)) {
                                case 0 -> s.execute("DELETE FROM income WHERE id = " + id);
                                case 1 -> s.execute("UPDATE customer SET name = 'n" + i + "' WHERE id = " + (1 + r.nextInt(20)));
                                case 2 -> s.execute("INSERT INTO invoice_item VALUES (" + (10_000 + i) + ", " + (1 + r.nextInt(500))
                                        + ", 'x', 1) ON CONFLICT DO NOTHING");
                                default -> s.execute("INSERT INTO income VALUES (" + id + ", 1, " + i + ", 'w', '2026-05-05')"
                                        + " ON CONFLICT (id) DO UPDATE SET amount = income.amount + 1");
                            }
                            writes.incrementAndGet();
                        }
                    } catch (Throwable t) {
                        failure.set(t);
                    }
                });
                List<long[]> progress = new ArrayList<>();
                long rows = projections.rebuild(ft, (done, total) -> progress.add(new long[]{done, total}));
                projections.rebuild(journal, Projections.Progress.none());
                Thread.sleep(500);
                writing.set(false);
                load.join();
                assertThat(failure.get()).isNull();
                assertThat(writes.get()).isGreaterThan(100);
                assertThat(rows).isGreaterThan(2_500);
                assertThat(progress).isNotEmpty();
                assertThat(progress.get(progress.size() - 1)[0]).isEqualTo(progress.get(progress.size() - 1)[1]);
                db.sync();
                assertThat(liveFt.awaitCaughtUp(WAIT)).isTrue();
                assertThat(liveJournal.awaitCaughtUp(WAIT)).isTrue();
                assertThat(projections.verify(ft).summary()).endsWith("(consistent)");
                assertThat(projections.verify(journal).summary()).endsWith("(consistent)");
                assertThat(db.rows("SELECT count(*) FROM financial_transaction")).isEqualTo(db.rows("SELECT count(*) FROM income"));
                assertThat(db.rows("SELECT to_regclass('financial_transaction_annals_rebuild') IS NULL")).containsExactly("t");
            }
        }
    }

    @Test
    void concurrentEditsOfOnePriceEndAtTheOneThatCommittedLast() throws Exception {
        try (Captured db = new Captured("proj_race", Wave.SOURCES)) {
            db.execute(Wave.READ_TABLES);
            db.execute("INSERT INTO income VALUES (1, 1, 10.00, 'price', '2026-01-01')");
            Projections projections = Projections.over(db.changeLog).pollInterval(Duration.ofMillis(100)).build();
            try (RunningProjection running = projections.start(Wave.financialTransactions())) {
                for (int round = 0; round < 15; round++) {
                    // The talk's race: one request sets $10, another $10.5, at the same moment.
                    String a = "10." + round, b = "10.5" + round;
                    Thread t1 = Thread.ofPlatform().start(() -> db.execute("UPDATE income SET amount = " + a + " WHERE id = 1"));
                    Thread t2 = Thread.ofPlatform().start(() -> db.execute("UPDATE income SET amount = " + b + " WHERE id = 1"));
                    t1.join();
                    t2.join();
                    db.sync();
                    assertThat(running.awaitCaughtUp(WAIT)).isTrue();
                    assertThat(db.rows("SELECT amount FROM financial_transaction"))
                            .as("round %d", round).isEqualTo(db.rows("SELECT amount FROM income"));
                }
            }
        }
    }

    @Test
    void repairOfMoreExtraKeysThanAChunkAndRebuildsOfATableWithASerialColumnAndFullReplicaIdentity() {
        try (Captured db = new Captured("proj_repair_big", "CREATE TABLE payment (id bigint PRIMARY KEY, amount numeric(10,2) NOT NULL)",
                "CREATE TABLE ledger (seq serial, canonical_type text NOT NULL, canonical_pk text NOT NULL, amount numeric(10,2))",
                "CREATE INDEX ON ledger (canonical_type, canonical_pk)", "ALTER TABLE ledger REPLICA IDENTITY FULL")) {
            Projection ledger = Projection.named("ledger").into("public.ledger")
                    .from("public.payment", c -> List.of(Wave.row("amount", c.after("amount")))).build();
            Projections projections = Projections.over(db.changeLog).pollInterval(Duration.ofMillis(100)).build();
            db.execute("INSERT INTO payment SELECT g, g FROM generate_series(1, 2500) g");
            try (RunningProjection running = projections.start(ledger)) {
                db.sync();
                assertThat(running.awaitCaughtUp(WAIT)).isTrue();
            }
            // Stopped: the source loses 1,500 rows the read table still has, more than one chunk of keys.
            db.execute("DELETE FROM payment WHERE id > 1000");
            VerifyReport report = projections.verify(ledger);
            assertThat(report.extra()).isEqualTo(1_500);
            assertThat(projections.repair(ledger).extra()).isEqualTo(1_500);
            assertThat(projections.verify(ledger).consistent()).isTrue();
            for (int i = 0; i < 2; i++) {
                assertThat(projections.rebuild(ledger, Projections.Progress.none())).isEqualTo(1_000);
            }
            assertThat(db.rows("SELECT relreplident FROM pg_class WHERE oid = 'ledger'::regclass")).containsExactly("f");
            assertThat(db.rows("SELECT count(DISTINCT seq), count(*) FROM ledger")).containsExactly("1000 | 1000");
            try (RunningProjection running = projections.start(ledger)) {
                db.execute("DELETE FROM payment WHERE id = 1", "INSERT INTO payment VALUES (9999, 1)");
                db.sync();
                assertThat(running.awaitCaughtUp(WAIT)).isTrue();
            }
            assertThat(projections.verify(ledger).consistent()).isTrue();
        }
    }
}
