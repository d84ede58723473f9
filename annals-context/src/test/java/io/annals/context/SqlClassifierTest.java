package io.annals.context;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;

class SqlClassifierTest {

    @ParameterizedTest
    @ValueSource(strings = {
            "INSERT INTO t VALUES (1)",
            "  update t set a = 1",
            "DELETE FROM t",
            "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
            "(INSERT INTO t VALUES (1))",
            "-- comment\nINSERT INTO t VALUES (1)",
            "/* a /* nested */ comment */ UPDATE t SET a = 1",
            "SELECT 1; UPDATE t SET a = 1",
            "SELECT * INTO copy FROM t",
            "CALL do_things()",
            "{call do_things(?)}",
            "{? = call f(?)}",
            "DO $$ BEGIN UPDATE t SET a = 1; END $$",
            "TRUNCATE t",
            "COPY t FROM STDIN",
            "EXECUTE prepared_insert(1)",
            "CREATE TABLE t (id int)",
            "ALTER TABLE t ADD COLUMN b int",
            "EXPLAIN ANALYZE DELETE FROM t",
            "something we do not know",
    })
    void writes(String sql) {
        assertThat(SqlClassifier.classify(sql).writes()).as(sql).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "SELECT * FROM t",
            "select 'INSERT INTO t' as text",
            "SELECT $$ DELETE FROM t $$",
            "SELECT $body$ UPDATE t $body$, $1",
            "SELECT E'it\\'s; DELETE FROM t'",
            "SELECT \"insert\" FROM t",
            "SELECT 1 -- ; DELETE FROM t",
            "SELECT 1 /* ; DELETE FROM t */",
            "SELECT * FROM t FOR UPDATE",
            "(SELECT 1) UNION (SELECT 2)",
            "VALUES (1), (2)",
            "TABLE t",
            "SHOW wal_level",
            "SET application_name = 'x'",
            "SET LOCAL statement_timeout = 0",
            "RESET ALL",
            "EXPLAIN SELECT * FROM t",
            "EXPLAIN DELETE FROM t",
            "BEGIN",
            "COMMIT",
            "ROLLBACK TO SAVEPOINT a",
            "SAVEPOINT a",
            "LISTEN things",
            "FETCH 10 FROM c",
            "DECLARE c CURSOR FOR SELECT * FROM t",
            "LOCK TABLE t",
            "VACUUM t",
            "ANALYZE t",
            "CREATE INDEX CONCURRENTLY i ON t (a)",
            "DROP INDEX CONCURRENTLY i",
            "CREATE DATABASE other",
            "ALTER SYSTEM SET work_mem = '1MB'",
            "SELECT 1; VACUUM t; DELETE FROM t",
            "",
            ";",
            "   ",
    })
    void doesNotWrite(String sql) {
        assertThat(SqlClassifier.classify(sql).writes()).as(sql).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"BEGIN", "start transaction", "COMMIT", "END", "rollback", "ABORT", "ROLLBACK TO a",
            "RELEASE SAVEPOINT a", "PREPARE TRANSACTION 'x'", "INSERT INTO t VALUES (1); COMMIT"})
    void controlsTransactions(String sql) {
        assertThat(SqlClassifier.classify(sql).controlsTransaction()).as(sql).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"SELECT 1", "INSERT INTO t VALUES ('COMMIT')", "PREPARE p AS SELECT 1"})
    void doesNotControlTransactions(String sql) {
        assertThat(SqlClassifier.classify(sql).controlsTransaction()).as(sql).isFalse();
    }
}
