package io.annals.replication;

import io.annals.capture.CaptureWorker;
import io.annals.changelog.ChangeLog;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Source → capture → change log → {@link CqrsMaster} → RabbitMQ → {@link CqrsReplica} → replica
 * table, for the kinds of types of the capture's value oracle (ValueConverterOracleTest): the
 * replica's rows must equal the source's, value for value ({@code to_jsonb} text), after inserts,
 * a bulk UPDATE and deletes.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class RoundTripTest extends BrokerAndDatabases {

    private static final String TYPES = """
            CREATE TYPE mood AS ENUM ('sad', 'ok', 'with "quote"');
            CREATE DOMAIN posint AS int CHECK (VALUE > 0);
            CREATE DOMAIN amount AS numeric(10,2);
            CREATE TYPE addr AS (street text, zip int, tags text[], seen timestamptz);
            """;
    private static final String COLUMNS = """
            id int PRIMARY KEY, i2 int2, i8 int8, f4 float4, f8 float8, n numeric, n4 numeric(12,4), n0 numeric(30,0),
            t text, v varchar(40), c char(6), u uuid, b bool,
            d date, ts timestamp, tstz timestamptz, tm time, ttz timetz, iv interval,
            ia int[], ia2 int[][], ta text[], na numeric[], tza timestamptz[], ja jsonb[],
            a addr, aa addr[], m mood, ma mood[], p posint, amt amount,
            r4 int4range, rtz tstzrange, m4 int4multirange,
            ip inet, net cidr, mac macaddr, money_ money, bits bit(8), vb varbit, by bytea, j json, jb jsonb, x xml, pt point,
            tv tsvector""";
    private static final String ROWS = """
            INSERT INTO everything VALUES
              (1, -32768, 9223372036854775807, 3.4028235e38, 1.7976931348623157e308, 2.50, -99999999.9999,
                  999999999999999999999999999999, 'ünïcödé – “q” 😀 / \\ "', 'v', 'c', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', true,
                  '2024-02-29', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123456+05:30', '13:14:15.1', '13:14:15+05:30',
                  '1 year 2 mons 3 days 04:05:06.789', '{1,NULL,3}', '{{1,2},{3,4}}', '{a,"b c",NULL,""}', '{2.50,0.00,1000.000}',
                  '{"2020-01-01 00:00+00",infinity}', ARRAY['{"k": [1, 2.50]}'::jsonb], ROW('Main "St"', 12345, '{x}', '2020-01-01 00:00+00'),
                  ARRAY[ROW('a', 1, NULL, NULL)::addr, NULL], 'with "quote"', '{sad,ok}', 7, 12.5,
                  '[1,10)', '["2020-01-01 00:00+00","2021-01-01 00:00+05")', '{[1,3),[5,7)}',
                  '10.0.0.1', '10.0.0.0/8', '08:00:2b:01:02:03', 1234.56, B'10101010', B'1', '\\x00ff10', '{"a": 1, "b": [1, 2.50]}',
                  '{"b": 1, "a": [true, false, null]}', '<a attr="v">text &amp; more</a>', '(1.5,-2)', 'a fat cat sat'),
              (2, 0, 0, 'NaN', '-Infinity', 'NaN', 0, 0, '', '', '', NULL, false,
                  'infinity', '-infinity', 'infinity', '24:00:00', '00:00:00+15:59', '-1 days +02:00:00', '{}', '{}', '{}', '{}',
                  '{}', '{}', ROW(NULL, NULL, NULL, NULL), '{}', 'sad', '{}', 2147483647, -0.01,
                  'empty', '(,)', '{}', '::1', '2001:db8::/32', '00:00:00:00:00:00', -0.01, B'00000000', B'', '\\x', '[]', 'null',
                  '<r/>', '(0,0)', ''),
              (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
            INSERT INTO everything (id, d, ts, tstz, tm, ttz, iv, tza, rtz) VALUES
              (4, '0044-03-15 BC', '0044-03-15 12:00:00 BC', '0044-03-15 12:00:00.5+01 BC', '00:00:00.000001', '12:00:00+05:30:17',
                  '-178000000 years', '{"0044-03-15 12:00:00+00 BC"}', '["0044-03-15 12:00:00+00 BC",)')""";


    static List<String> image(String url) {
        return TestPostgres.rows(url, "SELECT (to_jsonb(e) - 'cqrs_revision' - 'cqrs_updated')::text FROM everything e ORDER BY id");
    }

    @Test
    void everyKindOfValueArrivesAsTheSourceHasIt() throws Exception {
        String src = dbs.create("rt_src");
        String dst = dbs.create("rt_dst");
        TestPostgres.execute(src, TYPES, "CREATE TABLE everything (" + COLUMNS + ")");
        TestPostgres.execute(dst, TYPES, "CREATE TABLE everything (" + COLUMNS + ", cqrs_revision int NOT NULL,"
                + " cqrs_updated timestamptz NOT NULL)");
        CaptureWorker capture = dbs.capture(src);
        String queue = rabbit.replicaQueue("roundtrip");
        try (CqrsMaster master = CqrsMaster.builder(ChangeLog.at(src)).broker(Broker.LOCAL).decimals(CqrsMaster.Decimals.EXACT)
                .entity(CqrsEntity.builder(RabbitQueues.EVERYTHING).table("everything").build()).feedName("rt").start();
             CqrsReplica replica = CqrsReplica.builder(JdbcDataSource.of(dst)).broker(Broker.LOCAL).queue(queue)
                     .table(ReplicaTable.builder(RabbitQueues.EVERYTHING).table("everything").build()).workers(2).maxRetries(0).start()) {
            TestPostgres.execute(src, ROWS);
            sync(capture, master, replica);
            assertThat(image(dst)).containsExactlyElementsOf(image(src));
            TestPostgres.execute(src, "UPDATE everything SET t = coalesce(t, '') || '+', n = n * 2, tstz = tstz + interval '1 day'",
                    "DELETE FROM everything WHERE id = 2");
            sync(capture, master, replica);
            assertThat(image(dst)).containsExactlyElementsOf(image(src));
            assertThat(TestPostgres.rows(dst, "SELECT id, cqrs_revision FROM everything ORDER BY id")).containsExactly("1 | 1", "3 | 1", "4 | 1");
            assertThat(replica.stats().deadLettered()).isZero();
        }
    }

    static void sync(CaptureWorker capture, CqrsMaster master, CqrsReplica replica) throws InterruptedException {
        capture.awaitCaughtUp(Duration.ofSeconds(30));
        assertThat(master.awaitCaughtUp(Duration.ofSeconds(30))).isTrue();
        assertThat(replica.awaitIdle(Duration.ofSeconds(30))).isTrue();
    }
}
