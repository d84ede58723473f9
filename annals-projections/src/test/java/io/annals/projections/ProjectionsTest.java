package io.annals.projections;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The Wave example end to end: captured source changes maintain read tables and computed columns. */
class ProjectionsTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static Captured db;

    @BeforeAll
    static void start() {
        String[] schema = new String[Wave.SOURCES.length + Wave.READ_TABLES.length];
        System.arraycopy(Wave.SOURCES, 0, schema, 0, Wave.SOURCES.length);
        System.arraycopy(Wave.READ_TABLES, 0, schema, Wave.SOURCES.length, Wave.READ_TABLES.length);
        db = new Captured("proj_wave", schema);
    }

    @AfterAll
    static void stop() {
        db.close();
    }

    private Projections projections() {
        return Projections.over(db.changeLog).pollInterval(Duration.ofMillis(200)).build();
    }

    private void caughtUp(RunningProjection... running) {
        db.sync();
        for (RunningProjection r : running) assertThat(r.awaitCaughtUp(WAIT)).as(r.toString()).isTrue();
    }

    @Test
    void keepsReadTablesAndComputedColumnsTrueThroughBulkSqlDeletesAndTruncates() {
        Projections projections = projections();
        try (RunningProjection ft = projections.start(Wave.financialTransactions());
             RunningProjection total = projections.start(Wave.invoiceTotal());
             RunningProjection journal = projections.start(Wave.journal())) {
            db.transaction(
                    "INSERT INTO customer VALUES (1, 'Ada'), (2, 'Grace')",
                    "INSERT INTO income VALUES (1, 10, 100.00, 'consulting', '2026-01-02'), (2, 10, 50.50, NULL, '2026-01-03')",
                    "INSERT INTO expense VALUES (1, 10, 20.00, 'paper', '2026-01-04')",
                    "INSERT INTO invoice (id, business_id, customer_id, issued_on) VALUES (1, 10, 1, '2026-02-01'),"
                            + " (2, 10, 2, '2026-02-02')",
                    "INSERT INTO invoice_item VALUES (1, 1, 'design', 300.00), (2, 1, 'build', 700.00), (3, 2, 'audit', 42.00)");
            caughtUp(ft, total, journal);
            assertThat(db.rows("SELECT canonical_type, canonical_pk, kind, amount, memo, happened_on FROM financial_transaction"
                    + " ORDER BY canonical_type, canonical_pk")).containsExactly(
                    "expense | {\"id\": 1} | expense | -20.00 | paper | 2026-01-04",
                    "income | {\"id\": 1} | income | 100.00 | consulting | 2026-01-02",
                    "income | {\"id\": 2} | income | 50.50 | null | 2026-01-03");
            assertThat(db.rows("SELECT id, total_amount FROM invoice ORDER BY id")).containsExactly("1 | 1000.00", "2 | 42.00");
            assertThat(db.rows("SELECT canonical_pk, account, debit, credit, customer FROM journal_entry ORDER BY canonical_pk, account"))
                    .containsExactly(
                            "{\"id\": 1} | receivable | 1000.00 | null | Ada",
                            "{\"id\": 1} | sales | null | 1000.00 | Ada",
                            "{\"id\": 2} | receivable | 42.00 | null | Grace",
                            "{\"id\": 2} | sales | null | 42.00 | Grace");

            // Bulk SQL, a rename through a join, a moved item, a deleted row, a truncate.
            db.transaction("UPDATE income SET amount = amount * 2", "UPDATE customer SET name = 'Ada L.' WHERE id = 1",
                    "UPDATE invoice_item SET invoice_id = 2 WHERE id = 2", "DELETE FROM expense WHERE id = 1");
            caughtUp(ft, total, journal);
            assertThat(db.rows("SELECT canonical_type, canonical_pk, amount FROM financial_transaction ORDER BY canonical_pk"))
                    .containsExactly("income | {\"id\": 1} | 200.00", "income | {\"id\": 2} | 101.00");
            assertThat(db.rows("SELECT id, total_amount FROM invoice ORDER BY id")).containsExactly("1 | 300.00", "2 | 742.00");
            assertThat(db.rows("SELECT canonical_pk, account, coalesce(debit, credit), customer FROM journal_entry"
                    + " ORDER BY canonical_pk, account")).containsExactly(
                    "{\"id\": 1} | receivable | 300.00 | Ada L.", "{\"id\": 1} | sales | 300.00 | Ada L.",
                    "{\"id\": 2} | receivable | 742.00 | Grace", "{\"id\": 2} | sales | 742.00 | Grace");

            db.execute("TRUNCATE income", "TRUNCATE invoice_item");
            caughtUp(ft, total, journal);
            assertThat(db.rows("SELECT count(*) FROM financial_transaction")).containsExactly("0");
            assertThat(db.rows("SELECT id, total_amount FROM invoice ORDER BY id")).containsExactly("1 | 0.00", "2 | 0.00");
            assertThat(db.rows("SELECT DISTINCT coalesce(debit, credit) FROM journal_entry")).containsExactly("0.00");

            for (Projection p : List.of(Wave.financialTransactions(), Wave.invoiceTotal(), Wave.journal())) {
                assertThat(projections.verify(p).consistent()).as(p.name()).isTrue();
            }
        }
    }

    @Test
    void verifyFindsAManualEditWithItsContextAndRepairFixesIt() {
        Projections projections = projections();
        Projection ft = Wave.financialTransactions();
        try (RunningProjection running = projections.start(ft)) {
            db.execute("INSERT INTO income VALUES (100, 7, 10.00, 'x', '2026-03-01')");
            caughtUp(running);
            db.execute("SELECT pg_logical_emit_message(true, 'annals', '{\"user\": \"mallory\", \"endpoint\": \"/admin\"}');"
                    + " UPDATE financial_transaction SET amount = 9999 WHERE canonical_pk = '{\"id\": 100}'");
            caughtUp(running);
            VerifyReport report = projections.verify(ft);
            assertThat(report.different()).isEqualTo(1);
            assertThat(report.examples().get(0).canonicalPk()).isEqualTo("{\"id\": 100}");
            assertThat(projections.manualEdits(ft.name())).anySatisfy(e -> assertThat((String) e.get("context"))
                    .contains("mallory").contains("/admin"));
            VerifyReport repaired = projections.repair(ft);
            assertThat(repaired.different()).isEqualTo(1);
            assertThat(projections.verify(ft).consistent()).isTrue();
            assertThat(db.rows("SELECT amount FROM financial_transaction WHERE canonical_pk = '{\"id\": 100}'"))
                    .containsExactly("10.00");
        }
    }

    @Test
    void writesAnEditOfAReadRowBackToItsSource() {
        Projections projections = projections();
        Projection ft = Wave.financialTransactions();
        try (RunningProjection running = projections.start(ft)) {
            db.execute("INSERT INTO income VALUES (200, 7, 1.00, 'before', '2026-03-01')");
            caughtUp(running);
            projections.writeBack(ft, "income", "{\"id\": 200}", Map.of("memo", "after"));
            caughtUp(running);
            assertThat(db.rows("SELECT memo FROM income WHERE id = 200")).containsExactly("after");
            assertThat(db.rows("SELECT memo FROM financial_transaction WHERE canonical_pk = '{\"id\": 200}'")).containsExactly("after");
        }
    }

    @Test
    void metricsCarryAppliedChangesLagQuarantineAndVerifyDifferences() {
        var meters = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        Projection ft = Wave.financialTransactions();
        try (Captured db = new Captured("proj_metrics", Wave.SOURCES)) {
            db.execute(Wave.READ_TABLES);
            Projections projections = Projections.over(db.changeLog).pollInterval(Duration.ofMillis(200)).meterRegistry(meters).build();
            try (RunningProjection running = projections.start(ft)) {
                db.execute("INSERT INTO expense VALUES (300, 7, 3.00, 'm', '2026-03-01')");
                caughtUp(db, running);
                assertThat(meters.get("annals.projection.applied").tag("projection", ft.name()).counter().count()).isPositive();
                assertThat(meters.get("annals.feed.behind.changes").tag("consumer", "projection:" + ft.name()).gauge().value()).isZero();
                assertThat(meters.get("annals.projection.quarantined").tag("projection", ft.name()).counter().count()).isZero();
                db.execute("UPDATE financial_transaction SET memo = 'edited' WHERE canonical_pk = '{\"id\": 300}'");
                caughtUp(db, running);
                projections.verify(ft);
                assertThat(meters.get("annals.projection.verify.differences").tag("projection", ft.name()).gauge().value())
                        .isEqualTo(1.0);
                projections.repair(ft);
            }
        }
    }

    private static void caughtUp(Captured db, RunningProjection running) {
        db.sync();
        assertThat(running.awaitCaughtUp(WAIT)).isTrue();
    }
}
