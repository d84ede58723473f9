package io.annals.history.revert;

import io.annals.capture.CaptureOptions;
import io.annals.capture.CaptureWorker;
import io.annals.changelog.Operation;
import io.annals.context.AnnalsContext;
import io.annals.context.ContextDataSource;
import io.annals.history.AuditTrail;
import io.annals.history.Change;
import io.annals.history.HistoryException;
import io.annals.history.LiveDatabase;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Reverts against live captured history: what they write, what they refuse, and what they record. */
class RevertTest {

    private static final String ORDERS = "SELECT o::text FROM orders o ORDER BY id";
    private static final String CUSTOMERS = "SELECT c::text FROM customers c ORDER BY id";
    private static LiveDatabase db;

    @BeforeAll
    static void start() {
        db = LiveDatabase.create("revert",
                "CREATE TABLE orders (id bigint PRIMARY KEY, status text NOT NULL, amount numeric(10,2),"
                        + " tags text[], meta jsonb, placed_at timestamptz,"
                        + " doubled numeric GENERATED ALWAYS AS (amount * 2) STORED)",
                "CREATE TABLE customers (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)");
    }

    @AfterAll
    static void stop() {
        if (db != null) db.close();
    }

    private static void reset() {
        db.execute("TRUNCATE orders, customers RESTART IDENTITY",
                "INSERT INTO orders (id, status, amount, tags, meta, placed_at) VALUES"
                        + " (1, 'new', 10.50, '{a,b}', '{\"x\": [1, 2.50]}', '2026-11-01 10:00+01'),"
                        + " (2, 'new', 20.00, NULL, '\"just a string\"', NULL),"
                        + " (3, 'paid', 30.00, '{}', NULL, '2026-11-02 00:00Z')",
                "INSERT INTO customers (name) VALUES ('Ann'), ('Bob')");
    }

    @Test
    void revertingATransactionRestoresEveryRowItTouchedAndRevertingTheRevertRedoesIt() {
        reset();
        List<String> orders = db.rows(ORDERS);
        List<String> customers = db.rows(CUSTOMERS);
        long xid = db.transaction(
                "UPDATE orders SET status = 'paid', amount = 11.00, tags = '{c}', meta = '{\"y\": null}' WHERE id = 1",
                "DELETE FROM orders WHERE id = 2",
                "INSERT INTO orders (id, status, amount) VALUES (4, 'new', 1.25)",
                "UPDATE orders SET id = 30 WHERE id = 3",
                "INSERT INTO customers (name) VALUES ('Cid')",
                "UPDATE customers SET name = 'Annie' WHERE id = 1");
        List<String> ordersAfter = db.rows(ORDERS);
        List<String> customersAfter = db.rows(CUSTOMERS);
        db.sync();

        RevertPlan plan = db.trail.revertTransaction(xid).plan();
        assertThat(plan.changes()).isEqualTo(6);
        assertThat(plan.conflicts()).isEmpty();
        assertThat(plan.steps()).hasSize(6);
        assertThat(plan.sql()).contains("DELETE FROM \"public\".\"customers\"", "INSERT INTO \"public\".\"orders\"",
                "UPDATE \"public\".\"orders\"");
        RevertPlan.Outcome outcome = plan.apply();
        assertThat(outcome.applied()).isEqualTo(6);
        assertThat(db.rows(ORDERS)).isEqualTo(orders);
        assertThat(db.rows(CUSTOMERS).get(0)).isEqualTo(customers.get(0));
        assertThat(db.rows(CUSTOMERS)).hasSize(2);

        db.sync();
        List<Change> recorded = db.trail.changes().transaction(outcome.transactionId()).list();
        assertThat(recorded).hasSize(6);
        assertThat(recorded).allSatisfy(c -> {
            assertThat(c.context().get("annals.revert_id").asText()).isEqualTo(outcome.revertId());
            assertThat(c.context().get("annals.revert_of").get("transaction_id").asLong()).isEqualTo(xid);
        });

        db.trail.revertTransaction(outcome.transactionId()).plan().apply();
        assertThat(db.rows(ORDERS)).isEqualTo(ordersAfter);
        assertThat(db.rows(CUSTOMERS)).isEqualTo(customersAfter);
    }

    @Test
    @SuppressWarnings("try")
    void revertingOneRequestLeavesOtherRequestsAlone() throws SQLException {
        reset();
        DataSource app = ContextDataSource.wrap(db.dataSource);
        try (AnnalsContext.Scope ignored = AnnalsContext.with(Map.of("request_id", "r-1", "user_id", 42))) {
            run(app, "UPDATE orders SET status = 'shipped' WHERE id = 1");
        }
        try (AnnalsContext.Scope ignored = AnnalsContext.with(Map.of("request_id", "r-2"))) {
            run(app, "UPDATE orders SET status = 'cancelled' WHERE id = 3");
        }
        List<String> beforeR1Delete = db.rows(ORDERS);
        try (AnnalsContext.Scope ignored = AnnalsContext.with(Map.of("request_id", "r-1", "user_id", 42))) {
            run(app, "DELETE FROM orders WHERE id = 2");
        }
        db.sync();

        RevertPlan.Outcome outcome = db.trail.revert(db.trail.changes().contextContains(Map.of("request_id", "r-1")))
                .plan().apply();
        assertThat(outcome.applied()).isEqualTo(2);
        assertThat(db.rows("SELECT id, status FROM orders ORDER BY id"))
                .containsExactly("1 | new", "2 | new", "3 | cancelled");
        assertThat(db.rows(ORDERS).get(1)).as("the deleted row comes back whole").isEqualTo(beforeR1Delete.get(1));
    }

    @Test
    void aRowChangedAgainLaterIsAConflictThatFailSkipAndForceEachHandle() {
        reset();
        long xid = db.transaction("UPDATE orders SET status = 'paid' WHERE id = 1",
                "UPDATE orders SET status = 'paid' WHERE id = 2");
        db.transaction("UPDATE orders SET status = 'refunded', amount = 0 WHERE id = 1");
        db.sync();
        List<String> now = db.rows(ORDERS);

        RevertPlan failing = db.trail.revertTransaction(xid).plan();
        assertThat(failing.conflicts()).singleElement().satisfies(c -> {
            assertThat(c.kind()).isEqualTo(RevertPlan.ConflictKind.CHANGED_LATER);
            assertThat(c.change().primaryKey().get("id").asLong()).isEqualTo(1);
        });
        assertThat(failing.blocked()).isTrue();
        assertThatThrownBy(failing::apply).isInstanceOf(RevertConflictException.class)
                .hasMessageContaining("nothing was written").hasMessageContaining("changed again");
        assertThat(db.rows(ORDERS)).isEqualTo(now);

        RevertPlan.Outcome skipped = db.trail.revertTransaction(xid).onConflict(ConflictPolicy.SKIP).plan().apply();
        assertThat(skipped.applied()).isEqualTo(1);
        assertThat(skipped.skipped()).hasSize(1);
        assertThat(db.rows("SELECT id, status, amount FROM orders ORDER BY id"))
                .containsExactly("1 | refunded | 0.00", "2 | new | 20.00", "3 | paid | 30.00");

        db.sync();
        db.trail.revertTransaction(xid).onConflict(ConflictPolicy.FORCE).plan().apply();
        assertThat(db.rows("SELECT id, status, amount FROM orders ORDER BY id"))
                .containsExactly("1 | new | 0.00", "2 | new | 20.00", "3 | paid | 30.00");
    }

    @Test
    void aRowChangedAfterPlanningFailsItsGuardAndNothingIsWritten() {
        reset();
        long xid = db.transaction("UPDATE orders SET status = 'paid' WHERE id = 1",
                "UPDATE orders SET status = 'paid' WHERE id = 2");
        db.sync();
        RevertPlan plan = db.trail.revertTransaction(xid).plan();
        db.execute("UPDATE orders SET status = 'lost' WHERE id = 2");
        List<String> now = db.rows(ORDERS);
        assertThatThrownBy(plan::apply).isInstanceOfSatisfying(RevertConflictException.class, e ->
                assertThat(e.conflicts()).singleElement().satisfies(c -> {
                    assertThat(c.kind()).isEqualTo(RevertPlan.ConflictKind.ROW_MISMATCH);
                    assertThat(c.change().primaryKey().get("id").asLong()).isEqualTo(2);
                }));
        assertThat(db.rows(ORDERS)).isEqualTo(now);
    }

    @Test
    void rollingATableBackToAnInstantRestoresWhatItHeldThen() throws InterruptedException {
        Instant instant = resetAndMark();
        List<String> then = db.rows(ORDERS);
        db.execute("UPDATE orders SET status = 'x' WHERE id = 1", "DELETE FROM orders WHERE id = 3",
                "INSERT INTO orders (id, status) VALUES (9, 'new')", "TRUNCATE orders",
                "INSERT INTO orders (id, status) VALUES (10, 'after truncate')");
        db.sync();
        db.trail.revertTable("orders", instant).plan().apply();
        assertThat(db.rows(ORDERS)).isEqualTo(then);
    }

    /**
     * With the change log in a database of its own, a revert writes to the source through
     * {@code writingTo}. Row changes come back from the values the plan carries; a TRUNCATE's rows,
     * which where the log lives are read back inside the restoring statement, travel in the plan
     * instead (bounded by maxChanges), with every type and odd character intact.
     */
    @Test
    void aRevertWritingToAnotherDatabaseUndoesRowChangesAndATruncateThere() throws Exception {
        // Another data source of the change log's own database is where the log is: the rows are read back there.
        Instant instant = resetAndMark();
        List<String> then = db.rows(ORDERS);
        db.execute("TRUNCATE orders");
        db.sync();
        RevertPlan sameDatabase = db.trail.revertTable("orders", instant).writingTo(ContextDataSource.wrap(db.dataSource)).plan();
        assertThat(sameDatabase.sql()).contains("FROM annals.changes");
        sameDatabase.apply();
        assertThat(db.rows(ORDERS)).isEqualTo(then);

        String source = TestPostgres.newDatabase("revert_source");
        String logUrl = TestPostgres.newDatabase("revert_log");
        String items = "SELECT i::text FROM items i ORDER BY id";
        try {
            TestPostgres.execute(source, "CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL, amount numeric(10,2),"
                            + " tags text[], at timestamptz)",
                    "INSERT INTO items VALUES (1, 'a', 1.50, '{x,\"y z\"}', '2026-11-01 10:00+00'), (2, 'b', NULL, NULL, NULL),"
                            + " (4, 'it''s a \\ back', 2.00, '{}', '2026-11-02 00:00:00.123456+00')");
            PGSimpleDataSource sourceData = new PGSimpleDataSource();
            sourceData.setURL(source);
            PGSimpleDataSource logData = new PGSimpleDataSource();
            logData.setURL(logUrl);
            AuditTrail trail = AuditTrail.of(logData);
            List<String> original = TestPostgres.rows(source, items);
            try (CaptureWorker worker = CaptureWorker.start(CaptureOptions.builder(source).target(logUrl)
                    .heartbeatInterval(Duration.ofMillis(200)).build())) {
                long update = TestPostgres.transaction(source, "UPDATE items SET v = 'changed' WHERE id = 1").xid();
                List<String> beforeTruncate = TestPostgres.rows(source, items);
                long truncate = TestPostgres.transaction(source, "TRUNCATE items",
                        "INSERT INTO items (id, v) VALUES (3, 'c')").xid();
                worker.awaitCaughtUp(Duration.ofSeconds(60));

                // The three rows travel in the plan, so maxChanges bounds them as it bounds its steps.
                RevertPlan tooMany = trail.revertTransaction(truncate).writingTo(sourceData).maxChanges(2).plan();
                assertThat(tooMany.conflicts()).singleElement().satisfies(c -> {
                    assertThat(c.kind()).isEqualTo(RevertPlan.ConflictKind.OLD_VALUE_UNKNOWN);
                    assertThat(c.change().operation()).isEqualTo(Operation.TRUNCATE);
                    assertThat(c.detail()).contains("removed 3 rows", "maxChanges (2)", "as-of --into");
                });
                assertThatThrownBy(tooMany::apply).isInstanceOf(RevertConflictException.class);
                // And so does their size.
                assertThat(trail.revertTransaction(truncate).writingTo(sourceData).maxCarriedBytes(100).plan().conflicts())
                        .singleElement().satisfies(c -> assertThat(c.detail()).contains("bytes of JSON, over the 100"));
                assertThat(TestPostgres.rows(source, items)).containsExactly("(3,c,,,)");

                // The dry-run script carries the rows too, and runs as it reads even without standard_conforming_strings.
                RevertPlan undoTruncate = trail.revertTransaction(truncate).writingTo(sourceData).plan();
                assertThat(undoTruncate.conflicts()).isEmpty();
                assertThat(undoTruncate.sql()).doesNotContain("annals.changes").contains("jsonb_populate_recordset", "E'");
                runScript(source, undoTruncate.sql());
                assertThat(TestPostgres.rows(source, items)).isEqualTo(beforeTruncate);

                // The UPDATE is followed by the TRUNCATE, which stays in the history; forced, its row goes back.
                worker.awaitCaughtUp(Duration.ofSeconds(60));
                RevertPlan undoUpdate = trail.revertTransaction(update).writingTo(sourceData).plan();
                assertThat(undoUpdate.conflicts()).singleElement()
                        .satisfies(c -> assertThat(c.kind()).isEqualTo(RevertPlan.ConflictKind.TRUNCATED_LATER));
                trail.revertTransaction(update).writingTo(sourceData).onConflict(ConflictPolicy.FORCE).plan().apply();
                assertThat(TestPostgres.rows(source, items)).isEqualTo(original);
            }
        } finally {
            TestPostgres.dropDatabase(source);
            TestPostgres.dropDatabase(logUrl);
        }
    }

    /** The script declares a variable n: a forced step's ON CONFLICT ("n") must still mean the key column. */
    @Test
    void theDryRunScriptOfAForcedRevertRunsOnAKeyColumnNamedN() throws SQLException {
        db.execute("CREATE TABLE IF NOT EXISTS counted (n int PRIMARY KEY, v text)", "TRUNCATE counted",
                "INSERT INTO counted VALUES (1, 'a')");
        db.sync();
        long xid = db.transaction("DELETE FROM counted WHERE n = 1");
        db.sync();
        String script = db.trail.revertTransaction(xid).onConflict(ConflictPolicy.FORCE).plan().sql();
        assertThat(script).contains("ON CONFLICT (\"n\")");
        runScript(db.url, script);
        assertThat(db.rows("SELECT c::text FROM counted c")).containsExactly("(1,a)");
    }

    /** A table name may hold a line break: in the script's comments it must not end the comment. */
    @Test
    void aTableNameWithALineBreakStaysInsideTheScriptsComments() throws SQLException {
        String table = "\"odd\nDROP TABLE orders; --\"";
        db.execute("CREATE TABLE IF NOT EXISTS " + table + " (id int PRIMARY KEY)", "TRUNCATE " + table);
        db.sync();
        long xid = db.transaction("INSERT INTO " + table + " VALUES (1)");
        db.sync();
        String script = db.trail.revertTransaction(xid).plan().sql();
        assertThat(script).contains("-- reverts CREATE");
        // The name's second line starts lines inside the statement's quoted identifiers, never one of its own.
        assertThat(script.lines()).noneMatch(line -> line.startsWith("DROP TABLE") && !line.startsWith("DROP TABLE orders; --\""));
        runScript(db.url, script);
        assertThat(db.rows("SELECT count(*) FROM " + table)).containsExactly("0");
        assertThat(db.rows("SELECT to_regclass('orders') IS NOT NULL")).containsExactly("t");
    }

    @Test
    void badInputGetsAClearErrorAndWritesNothing() {
        reset();
        db.sync();
        List<String> now = db.rows(ORDERS);
        assertThatThrownBy(() -> db.trail.revert(db.trail.changes().contextContains(Map.of("request_id", "nope"))).plan())
                .isInstanceOf(HistoryException.class).hasMessageContaining("Nothing to revert")
                .hasMessageContaining("Nothing was written");
        assertThatThrownBy(() -> db.trail.revert(db.trail.changes().table("orderz")).plan())
                .isInstanceOf(HistoryException.class).hasMessageContaining("Unknown table");
        assertThatThrownBy(() -> db.trail.revert(db.trail.changes().limit(3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("limit");
        assertThatThrownBy(() -> db.trail.revertTable("orders", Instant.parse("2000-01-01T00:00:00Z")))
                .isInstanceOf(HistoryException.class).hasMessageContaining("begins after");
        assertThat(db.rows(ORDERS)).isEqualTo(now);

        db.execute("CREATE TABLE doomed (id int PRIMARY KEY, v text)");
        long xid = db.transaction("INSERT INTO doomed VALUES (1, 'a')");
        db.sync();
        db.execute("DROP TABLE doomed");
        assertThatThrownBy(() -> db.trail.revertTransaction(xid).plan())
                .isInstanceOf(HistoryException.class).hasMessageContaining("no longer exists");
    }

    /** Resets the tables, waits until the log holds that, and returns an instant after it and before anything else. */
    private static Instant resetAndMark() throws InterruptedException {
        reset();
        db.sync();
        Thread.sleep(20);
        Instant instant = Instant.now();
        Thread.sleep(20);
        return instant;
    }

    /** Runs a plan's dry-run script by hand, in a session without standard_conforming_strings. */
    private static void runScript(String url, String script) throws SQLException {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement()) {
            s.execute("SET standard_conforming_strings = off");
            s.execute("SET escape_string_warning = off");
            s.execute(script);
        }
    }

    private static void run(DataSource ds, String sql) throws SQLException {
        try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
