package io.annals.projections;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Whatever concurrent workload runs over the sources (bulk statements, key changes, deletes,
 * truncates, rolled-back transactions), once capture and the projections catch up every read
 * table and computed column equals a recomputation from the sources.
 */
class ConvergencePropertyTest {

    /** Statements of one transaction, and whether it commits. */
    record Tx(List<String> statements, boolean commit) {
    }

    @Property(tries = 4, shrinking = ShrinkingMode.OFF)
    void readModelsConvergeToTheSources(@ForAll("workload") List<Tx> first, @ForAll("workload") List<Tx> second)
            throws Exception {
        try (Captured db = new Captured("proj_conv", Wave.SOURCES)) {
            db.execute(Wave.READ_TABLES);
            db.execute("INSERT INTO customer SELECT g, 'c' || g FROM generate_series(1, 5) g");
            Projections projections = Projections.over(db.changeLog).pollInterval(Duration.ofMillis(100)).batchSize(37).build();
            List<Projection> all = List.of(Wave.financialTransactions(), Wave.invoiceTotal(), Wave.journal());
            try (RunningProjection a = projections.start(all.get(0)); RunningProjection b = projections.start(all.get(1));
                 RunningProjection c = projections.start(all.get(2))) {
                AtomicReference<Throwable> failure = new AtomicReference<>();
                Thread t1 = Thread.ofPlatform().start(() -> run(db, first, failure));
                Thread t2 = Thread.ofPlatform().start(() -> run(db, second, failure));
                t1.join();
                t2.join();
                assertThat(failure.get()).isNull();
                assertThat(db.rows("SELECT (SELECT count(*) FROM income) + (SELECT count(*) FROM invoice_item)"
                        + " + (SELECT count(*) FROM invoice)").get(0)).as("the workload wrote something").isNotEqualTo("0");
                db.sync();
                for (RunningProjection r : List.of(a, b, c)) assertThat(r.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
                // The computed column's own writes were captured after the others read: one more round.
                db.sync();
                for (RunningProjection r : List.of(a, b, c)) assertThat(r.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
                for (Projection p : all) {
                    VerifyReport report = projections.verify(p);
                    assertThat(report.consistent()).as(report.summary() + " " + report.examples()).isTrue();
                }
            }
        }
    }

    private static void run(Captured db, List<Tx> txs, AtomicReference<Throwable> failure) {
        try (Connection c = Captured.dataSource(db.url).getConnection(); Statement s = c.createStatement()) {
            for (Tx tx : txs) {
                c.setAutoCommit(false);
                try {
                    for (String sql : tx.statements()) s.execute(sql);
                    if (tx.commit()) c.commit();
                    else c.rollback();
                } catch (SQLException e) {
                    // Only a clash with the other thread (a key taken, a deadlock) may stop a transaction; any other
                    // error is the test's bug.
                    if (!"23505".equals(e.getSQLState()) && !"40P01".equals(e.getSQLState())) throw e;
                    c.rollback();
                }
            }
        } catch (Throwable t) {
            failure.set(t);
        }
    }

    @Provide
    Arbitrary<List<Tx>> workload() {
        Arbitrary<Integer> id = Arbitraries.integers().between(1, 40);
        Arbitrary<Integer> amount = Arbitraries.integers().between(0, 999);
        Arbitrary<String> statement = Arbitraries.oneOf(
                Arbitraries.entries(id, amount).map(e -> "INSERT INTO income VALUES (" + e.getKey() + ", 1, " + e.getValue()
                        + ", 'm', '2026-01-01') ON CONFLICT (id) DO UPDATE SET amount = excluded.amount"),
                Arbitraries.entries(id, amount).map(e -> "INSERT INTO expense VALUES (" + e.getKey() + ", 2, " + e.getValue()
                        + ", NULL, '2026-01-02') ON CONFLICT (id) DO NOTHING"),
                id.map(i -> "DELETE FROM income WHERE id = " + i),
                id.map(i -> "UPDATE income SET id = id + 40 WHERE id = " + i), // a key change
                amount.map(a -> "UPDATE income SET amount = amount + " + a + " WHERE id % 3 = 0"), // bulk
                id.map(i -> "UPDATE expense SET memo = 'e" + i + "' WHERE id <= " + i),
                Arbitraries.of("TRUNCATE expense", "TRUNCATE invoice_item"),
                Arbitraries.entries(id, Arbitraries.integers().between(1, 5)).map(e -> "INSERT INTO invoice (id, business_id,"
                        + " customer_id, issued_on) VALUES (" + e.getKey() + ", 1, " + e.getValue() + ", '2026-02-01')"
                        + " ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id"),
                Arbitraries.entries(Arbitraries.integers().between(1, 200), id).map(e ->
                        "INSERT INTO invoice_item VALUES (" + e.getKey() + ", " + e.getValue() + ", 'x', " + e.getKey() % 50
                                + ") ON CONFLICT (id) DO UPDATE SET invoice_id = excluded.invoice_id, amount = invoice_item.amount + 1"),
                Arbitraries.integers().between(1, 200).map(i -> "DELETE FROM invoice_item WHERE id = " + i),
                id.map(i -> "DELETE FROM invoice WHERE id = " + i),
                Arbitraries.integers().between(1, 5).map(i -> "UPDATE customer SET name = name || 'x' WHERE id = " + i));
        Arbitrary<Tx> tx = Arbitraries.entries(statement.list().ofMinSize(1).ofMaxSize(4),
                Arbitraries.integers().between(0, 9)).map(e -> new Tx(e.getKey(), e.getValue() != 0));
        return tx.list().ofMinSize(20).ofMaxSize(60);
    }
}
