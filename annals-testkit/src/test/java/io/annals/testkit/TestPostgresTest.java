package io.annals.testkit;

import org.junit.jupiter.api.Test;

import java.sql.ResultSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TestPostgresTest {

    @Test
    void startsAServerWithLogicalWalLevel() throws Exception {
        String url = TestPostgres.newDatabase("kit");
        try (var c = TestPostgres.connect(url); ResultSet rs = c.createStatement().executeQuery("SHOW wal_level")) {
            rs.next();
            assertEquals("logical", rs.getString(1));
        }
        assertEquals(18, TestPostgres.server().majorVersion());
    }

    @Test
    void transactionCommitsItsStatementsAndReturnsTheIdsTheServerRecorded() {
        String url = TestPostgres.newDatabase("kit_tx");
        TestPostgres.execute(url, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        TestPostgres.Transaction first = TestPostgres.transaction(url, "INSERT INTO t VALUES (1, 'a')", "INSERT INTO t VALUES (2, NULL)");
        TestPostgres.Transaction second = TestPostgres.transaction(url, "UPDATE t SET v = 'b' WHERE id = 2");

        assertEquals(List.of("1 | a | " + first.xid(), "2 | b | " + second.xid()),
                TestPostgres.rows(url, "SELECT id, v, xmin FROM t ORDER BY id"));
        assertNotEquals(first.xid8(), second.xid8());
        assertEquals(List.of("committed"), TestPostgres.rows(url, "SELECT pg_xact_status('" + second.xid8() + "')"));
    }

    @Test
    void theThirtyTwoBitIdIsTheLowHalfOfTheFullOne() {
        TestPostgres.Transaction tx = new TestPostgres.Transaction((7L << 32) | 0xFFFF_FFF0L);
        assertEquals(0xFFFF_FFF0L, tx.xid());
        assertEquals(42, new TestPostgres.Transaction(42).xid());
    }

    @Test
    void aFailingStatementRollsBackTheWholeTransaction() {
        String url = TestPostgres.newDatabase("kit_tx_fail");
        TestPostgres.execute(url, "CREATE TABLE t (id int PRIMARY KEY)");
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> TestPostgres.transaction(url, "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (1)"));
        assertTrue(e.getMessage().contains("duplicate key"), e.getMessage());
        assertEquals(List.of("0"), TestPostgres.rows(url, "SELECT count(*) FROM t"));
    }
}
