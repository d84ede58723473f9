package io.annals.testkit;

import org.junit.jupiter.api.Test;

import java.sql.ResultSet;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
