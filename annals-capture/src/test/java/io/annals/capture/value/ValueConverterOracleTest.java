package io.annals.capture.value;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ValueConverter} against the real thing: for tables covering every kind of type, the row
 * JSON built from the column texts (as pgoutput sends them, and as {@code format('%s', col)} gives
 * them) must be {@code row_to_json(row)}'s text and, read by the server as jsonb, render as the same
 * text as {@code to_jsonb(row)}, so that numeric scale and key order count (see {@link JsonOracle}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ValueConverterOracleTest {

    private JsonOracle db;

    @BeforeAll
    void createDatabase() {
        db = JsonOracle.create("value_oracle");
    }

    @AfterAll
    void close() throws SQLException {
        db.close();
    }

    @Test
    void sessionUsesTheCaptureSettings() throws SQLException {
        try (Statement s = db.conn.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_setting('TimeZone'), current_setting('DateStyle'),"
                     + " current_setting('IntervalStyle'), current_setting('extra_float_digits'),"
                     + " current_setting('bytea_output'), current_setting('client_encoding'), current_setting('server_version_num')::int")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("UTC");
            assertThat(rs.getString(2)).startsWith("ISO");
            assertThat(rs.getString(3)).isEqualTo("postgres");
            assertThat(rs.getString(4)).isEqualTo("3");
            assertThat(rs.getString(5)).isEqualTo("hex");
            assertThat(rs.getString(6)).isEqualTo("UTF8");
            assertThat(rs.getInt(7)).isGreaterThanOrEqualTo(180000);
        }
    }

    @Test
    void numbers() {
        db.execute("""
                CREATE TABLE num (id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric,
                                  n2 numeric(12,4), n0 numeric(30,0))""");
        db.assertRoundTrip("num", """
                INSERT INTO num VALUES
                  (1, 0, 0, 0, 0, 0, 0, 0, 0),
                  (2, -32768, -2147483648, -9223372036854775808, '-Infinity', '-Infinity', '-Infinity', -99999999.9999,
                      -999999999999999999999999999999),
                  (3, 32767, 2147483647, 9223372036854775807, 'Infinity', 'Infinity', 'Infinity', 99999999.9999,
                      999999999999999999999999999999),
                  (4, NULL, NULL, NULL, 'NaN', 'NaN', 'NaN', NULL, NULL),
                  (5, 1, -1, 1, '-0', '-0', '-0', '-0.0000', '-0'),
                  (6, -1, 1, -1, '1e-38', '1e-300', '1e-1000', 0.0001, 1),
                  (7, 2, 3, 4, '3.4028235e38', '1.7976931348623157e308', '1e1000', 1.5, 2),
                  (8, 5, 6, 7, '1.4e-45', '4.9e-324', '3.14159265358979323846264338327950288419716939937510582097494459',
                      12.3456, 3),
                  (9, 8, 9, 10, '1.17549435e-38', '2.2250738585072014e-308', '0.000000000000000000000000000000000001',
                      -0.0001, 4),
                  (10, 11, 12, 13, '0.1', '0.1', '123456789012345678901234567890.123456789012345678901234567890', 0.1, 5),
                  (11, 14, 15, 16, '16777217', '1e22', '1e-20', 1, 6),
                  (12, 17, 18, 19, '1e10', '123456789012345678', '100', 100, 7),
                  (13, 20, 21, 22, '-1.5e-5', '-1.5e-5', '-1.5e-5', -1.5, 8)""",
                "SELECT setseed(0.25)",
                """
                INSERT INTO num (id, i2, i4, i8, f4, f8, n, n2, n0)
                SELECT 100 + g, (g * 97 % 65535 - 32767)::int2, (g * 1000003)::int4, (g::int8 * 92233720368547)::int8,
                       ((random() - 0.5) * 10 ^ ((g % 70) - 35))::float4,
                       (random() - 0.5) * 10 ^ ((g % 600) - 300),
                       round(((random() - 0.5) * 10 ^ ((g % 60) - 30))::numeric, g % 45),
                       round((random() * 10000)::numeric, 4),
                       (random() * 10 ^ 29)::numeric(30,0)
                FROM generate_series(1, 300) g""");
    }

    /**
     * Values that jsonb equality cannot tell from a rescaled spelling (2.50 and 2.5, 1000.000 and
     * 1E+3), in every place a numeric can sit: only the text comparison checks that the scale
     * survives conversion.
     */
    @Test
    void numericScaleIsKept() {
        db.execute("CREATE TYPE priced AS (label text, price numeric, prices numeric[])", """
                CREATE TABLE scale (id int PRIMARY KEY, n numeric, n3 numeric(10,3), na numeric[], jb jsonb, j json,
                                    p priced, pa priced[], f8 float8, nr numrange)""");
        db.assertRoundTrip("scale", """
                INSERT INTO scale VALUES
                  (1, 2.50, 2.5, '{2.50,0.00,1000.000,-0.0}', '{"n": 2.50}', '{"n": 2.50}', ROW('a', 2.50, '{0.10,1.000}'),
                      ARRAY[ROW('x', 9.90, '{0.0}')::priced], 2.5, '[2.50,3.000)'),
                  (2, 0.00, 0, '{{1.0,2.00},{3.000,NULL}}', '[0.00, 1.0e2, 1.000e-2, -0.0]', '[0.00, 1.0e2, -0.0]',
                      ROW('b', 0.00, '{}'), '{}', '-0', 'empty'),
                  (3, 1000.000, 1000, ARRAY['1.0E+3', '1.000e3', '2.50e-1']::numeric[], '{"a": {"b": [2.50]}, "z": 10.10}',
                      '{"z": 10.10, "a": 1, "a": 1.0}', ROW('c', '1.0E+3', NULL), NULL, 1e3, '[0.0,0.00]'),
                  (4, -0.0, -0.0004, '{-0.0,-0.00}', '100.000', '100.000', ROW(NULL, -0.0, '{-0.0}'), NULL, 1.5e-7, NULL),
                  (5, '2.50e-1', 1.5, '{1e-20}', '{"n": 1e-20, "m": 1E+2}', '{"n": 1e-20}', NULL, NULL, NULL, NULL)""");
    }

    /**
     * The oracle itself: a converter that rescaled numbers (2.5 for 2.50, 1E+3 for 1000.000) writes
     * images that jsonb equality calls equal to to_jsonb's; the text comparison must reject them.
     */
    @Test
    void theOracleRejectsALostScale() throws SQLException {
        db.execute("CREATE TABLE scale_probe (id int PRIMARY KEY, n numeric, m numeric, j jsonb)",
                "INSERT INTO scale_probe VALUES (1, 2.50, 1000.000, '{\"n\": 2.50}')");
        String where = "oracle_row.id = 1";
        assertThat(db.compareImage("scale_probe", where, "right", "{\"id\":1,\"n\":2.50,\"m\":1000.000,\"j\":{\"n\": 2.50}}",
                List.of())).isNull();
        for (String wrong : List.of(
                "{\"id\":1,\"n\":2.5,\"m\":1000.000,\"j\":{\"n\": 2.50}}",
                "{\"id\":1,\"n\":2.500,\"m\":1000.000,\"j\":{\"n\": 2.50}}",
                "{\"id\":1,\"n\":2.50,\"m\":1E+3,\"j\":{\"n\": 2.50}}",
                "{\"id\":1,\"n\":2.50,\"m\":1000.000,\"j\":{\"n\": 2.5}}")) {
            JsonOracle.Mismatch m = db.compareImage("scale_probe", where, "wrong", wrong, List.of());
            assertThat(m).as("oracle verdict on %s", wrong).isNotNull();
            assertThat(m.oursAsJsonb()).as("image of %s", wrong).isNotEqualTo(m.theirs());
            assertThat(m.theirs()).isEqualTo("{\"j\": {\"n\": 2.50}, \"m\": 1000.000, \"n\": 2.50, \"id\": 1}");
            try (PreparedStatement ps = db.conn.prepareStatement(
                    "SELECT ?::jsonb = to_jsonb(oracle_row) FROM scale_probe oracle_row WHERE " + where)) {
                ps.setString(1, wrong);
                try (ResultSet rs = ps.executeQuery()) {
                    assertThat(rs.next()).isTrue();
                    assertThat(rs.getBoolean(1)).as("jsonb equality of %s", wrong).isTrue();
                }
            }
        }
        JsonOracle.Mismatch reordered = db.compareImage("scale_probe", where, "reordered",
                "{\"n\":2.50,\"id\":1,\"m\":1000.000,\"j\":{\"n\": 2.50}}", List.of());
        assertThat(reordered).as("keys out of column order").isNotNull();
        assertThat(reordered.oursAsJsonb()).isEqualTo(reordered.theirs());
        assertThat(JsonOracle.sameText(db.asJsonbText("2.5"), db.asJsonbText("2.50"))).isFalse();
        assertThat(JsonOracle.sameText(db.asJsonbText("[0.00]"), db.asJsonbText("[0]"))).isFalse();
        // In the image check, key order and spacing are the server's, so they cannot cause a false alarm.
        assertThat(JsonOracle.sameText(db.asJsonbText("{\"b\":1,\"a\":2.50}"), db.asJsonbText("{ \"a\" : 2.50, \"b\" : 1 }")))
                .isTrue();
    }

    @Test
    void textTypes() {
        db.execute("""
                CREATE TABLE txt (id int PRIMARY KEY, t text, v varchar(40), c char(6), nm name, ch "char", cs text COLLATE "C",
                                  u uuid)""");
        db.assertRoundTrip("txt", """
                INSERT INTO txt VALUES
                  (1, '', '', '', '', '', '', '00000000-0000-0000-0000-000000000000'),
                  (2, ' ', ' ', ' ', ' ', ' ', ' ', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
                  (3, 'NULL', 'NULL', 'NULL', 'NULL', 'N', 'null', NULL),
                  (4, 'a"b', '"', '""', '"quoted"', '"', '"', NULL),
                  (5, 'back\\slash \\\\ two', '\\', '\\n', '\\', '\\', '\\u0041', NULL),
                  (6, E'tab\\there\\nnew line\\r\\n', E'\\b\\f', E'\\t', E'x\\ty', E'\\t', E'\\u0001', NULL),
                  (7, E'\\x01\\x02\\x03\\x1f\\x7f', E'\\x1b[0m', E'\\x0b', E'\\x1f', E'\\x01', E'\\x7f', NULL),
                  (8, 'ünïcödé – “quotes” ‘single’ …', '日本語テキスト', 'ß€', 'Ω', 'z', 'Ä', NULL),
                  (9, '😀 emoji 𝄞 clef', '👩‍👩‍👧‍👦', '😀', '𝄞', 'x', '😀😀', NULL),
                  (10, E'\\u2028\\u2029\\u00a0\\ufeff', E'\\u0085', 'x', 'y', 'y', E'\\ufffd', NULL),
                  (11, '{"a": 1}', '[1,2]', '{}', '(1,2)', '{', '{a,b}', NULL),
                  (12, 'x''y', '''', '''''', 'it''s', '''', '''', NULL),
                  (13, repeat('long text ', 5000), repeat('v', 40), 'abcdef', repeat('n', 63), 'q', repeat('é', 3000), NULL),
                  (14, '   padded   ', '  ', 'a', ' a ', 'a', ' ', NULL),
                  (15, 'true', 'false', '1', '0', 't', 'f', NULL),
                  (16, NULL, NULL, NULL, NULL, NULL, NULL, NULL)""",
                """
                INSERT INTO txt (id, t, ch)
                SELECT 100 + g, chr(g) || 'x' || chr(g), chr(g)::"char" FROM generate_series(1, 127) g""",
                """
                INSERT INTO txt (id, t, v)
                SELECT 300 + g, chr(g), chr(g) || chr(g + 1) FROM generate_series(128, 2000, 7) g""");
    }

    @Test
    void highBitCharValues() {
        db.execute("CREATE TABLE ch (id int PRIMARY KEY, ch \"char\")");
        db.assertRoundTrip("ch", "INSERT INTO ch SELECT g, ('\\' || to_char(g / 64, 'FM0') || to_char(g / 8 % 8, 'FM0')"
                + " || to_char(g % 8, 'FM0'))::\"char\" FROM generate_series(128, 255) g");
    }

    @Test
    void datesAndTimes() {
        db.execute("""
                CREATE TABLE dt (id int PRIMARY KEY, d date, ts timestamp, tstz timestamptz, t time, ttz timetz, iv interval,
                                 ts0 timestamp(0), tstz3 timestamptz(3))""");
        db.assertRoundTrip("dt", """
                INSERT INTO dt VALUES
                  (1, '2024-02-29', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123456+05:30', '13:14:15.123456',
                      '13:14:15.123456+05:30', '1 year 2 mons 3 days 04:05:06.789', '2024-02-29 13:14:15.6', '2024-02-29 13:14:15.6789+00'),
                  (2, 'infinity', 'infinity', 'infinity', '24:00:00', '24:00:00-15:59', '-1 days +02:00:00', 'infinity', 'infinity'),
                  (3, '-infinity', '-infinity', '-infinity', '00:00:00', '00:00:00+15:59', '-178000000 years', '-infinity', '-infinity'),
                  (4, '0044-03-15 BC', '0044-03-15 12:00:00 BC', '0044-03-15 12:00:00+01 BC', '23:59:59.999999',
                      '12:00:00+05:30:17', '0', '0044-03-15 12:00:00 BC', '0044-03-15 12:00:00.5+01 BC'),
                  (5, '4714-11-24 BC', '4713-11-24 00:00:00 BC', '4713-11-24 00:00:00+00 BC', '00:00:00.000001',
                      '00:00:00.000001-00:00:01', '00:00:00.000001', '4713-11-24 00:00:00 BC', '4713-11-24 00:00:00+00 BC'),
                  (6, '5874897-12-31', '294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999+00', '12:00',
                      '12:00+00', '178000000 years', '294276-12-31 23:59:59', '294276-12-31 23:59:59.999+00'),
                  (7, '10000-01-01', '10000-01-01 00:00:00', '9999-12-31 23:59:59.999999-12', '01:02:03', '01:02:03-12',
                      '-1 year -2 mons +3 days -04:05:06', '10000-01-01 00:00:00', '9999-12-31 23:59:59.999-12'),
                  (8, '0001-01-01', '0001-01-01 00:00:00', '0001-01-01 00:00:00+00', '00:00', '00:00-00', '1 mon',
                      '0001-01-01 00:00:00', '0001-01-01 00:00:00+00'),
                  (9, '0001-12-31 BC', '0001-12-31 23:59:59.999999 BC', '0001-12-31 23:59:59.999999+00 BC', '23:59:59',
                      '23:59:59+14', '00:00:00.5', '0001-12-31 23:59:59 BC', '0001-12-31 23:59:59.999+00 BC'),
                  (10, '1970-01-01', '1970-01-01 00:00:00.000001', '1969-12-31 23:59:59.999999+00', '06:30', '06:30+05:45',
                      '2147483647 days 2562047788:00:54.775807', '1970-01-01 00:00:00', '1969-12-31 23:59:59.999+00'),
                  (11, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)""",
                """
                INSERT INTO dt VALUES (12, '2000-01-01', '2000-01-01', '2000-01-01 00:00+00', '00:00', '00:00+00',
                                       'infinity', '2000-01-01', '2000-01-01 00:00+00'),
                                      (13, '2000-01-01', '2000-01-01', '2000-01-01 00:00+00', '00:00', '00:00+00',
                                       '-infinity', '2000-01-01', '2000-01-01 00:00+00')""",
                """
                INSERT INTO dt (id, d, ts, tstz, t, ttz, iv, ts0, tstz3)
                SELECT 100 + g, date '1900-01-01' + g * 371,
                       timestamp '1900-01-01' + g * interval '371 days 1 hour 1.000001 seconds',
                       timestamptz '1900-01-01 00:00+00' + g * interval '371 days 7 hours 13.123457 seconds',
                       time '00:00' + g * interval '7 minutes 1.000003 seconds',
                       (time '00:00' + g * interval '7 minutes 3 seconds')::timetz,
                       g * interval '1 mon 1 day 1.5 seconds' - interval '100 mons',
                       timestamp '1900-01-01' + g * interval '371 days 1 hour 1.5 seconds',
                       timestamptz '1900-01-01 00:00+00' + g * interval '371 days 7 hours 13.1235 seconds'
                FROM generate_series(1, 200) g""");
    }

    @ParameterizedTest
    @ValueSource(strings = {"Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam", "Pacific/Chatham", "America/Caracas",
            "Etc/GMT+12", "Pacific/Kiritimati"})
    void timestampsWithZoneInOtherSessionTimeZones(String zone) {
        String table = "tz_" + zone.replaceAll("[^A-Za-z]", "_").toLowerCase();
        db.execute("CREATE TABLE " + table + " (id int PRIMARY KEY, tstz timestamptz, tstza timestamptz[], r tstzrange,"
                + " d date, ts timestamp)");
        db.execute("SET TimeZone = '" + zone + "'");
        try {
            db.assertRoundTrip(table, "INSERT INTO " + table + " SELECT g, x, ARRAY[x, NULL, x + interval '1 year'],"
                    + " tstzrange(x, x + interval '1 day'), x::date, x::timestamp FROM (SELECT g,"
                    + " timestamptz '1850-06-01 12:00:00.5+00' + g * interval '1111 days 3 hours 17 minutes 0.000123 seconds' AS x"
                    + " FROM generate_series(0, 60) g) s",
                    "INSERT INTO " + table + " VALUES (1000, '0044-03-15 12:00:00+00 BC', '{infinity,-infinity}', 'empty',"
                            + " '0044-03-15 BC', '0044-03-15 12:00:00 BC')");
        } finally {
            db.execute("SET TimeZone = 'UTC'");
        }
    }

    @Test
    void arrays() {
        db.execute("""
                CREATE TABLE arr (id int PRIMARY KEY, ia int[], ia2 int[][], ia3 int[], ta text[], na numeric[], fa float8[],
                                  f4a float4[], ba bool[], tsa timestamp[], tza timestamptz[], da date[], ja jsonb[], jsa json[],
                                  bxa box[], pa point[], ua uuid[], bya bytea[], ina inet[], iva interval[], tta time[],
                                  ttza timetz[], i8a int8[], i2a int2[], va varchar[], ca char(3)[], ta2 text[])""");
        db.assertRoundTrip("arr", """
                INSERT INTO arr VALUES
                  (1, '{1,2,3}', '{{1,2},{3,4}}', '{{{1,2},{3,4}},{{5,6},{7,8}}}',
                      '{"a b","c,d","e\\"f","g\\\\h","NULL",NULL,"","{x}"," lead","trail ","(p)","semi;colon"}',
                      '{1.5,NaN,-Infinity,Infinity,1e-20,-0,123456789012345678901234567890.5}',
                      '{Infinity,-Infinity,NaN,-0,1e300,4.9e-324}', '{Infinity,NaN,1.5,-3.4028235e38}', '{t,f,NULL}',
                      '{"2020-01-01 00:00:00","infinity","-infinity","0044-03-15 12:00:00 BC"}',
                      '{"2020-01-01 00:00:00+00","infinity","2020-06-01 12:34:56.789+05:30","0044-03-15 12:00:00+00 BC"}',
                      '{2020-01-01,infinity,"0044-03-15 BC"}',
                      ARRAY['{"a": [1, 2], "b": {"c": null}}', 'null', '"str"', '1', '[]', '{}', '"q\\"uote"']::jsonb[],
                      ARRAY['{"a" : 1, "a": 2}', ' [1,  2] ', '"\\u00e9"', 'true']::json[],
                      '{(1,2),(3,4);(5,6),(7,8);(0,0),(0,0)}', '{"(1,2)","(3.5,-4)",NULL}',
                      '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}', ARRAY['\\x'::bytea, '\\x00ff', NULL],
                      '{10.0.0.1,::1,192.168.0.0/16}', '{"1 day","-00:00:01",NULL}', '{00:00,"23:59:59.999999"}',
                      '{"00:00:00+00","12:00:00-05:30"}', '{-9223372036854775808,9223372036854775807}', '{-32768,32767}',
                      '{"",x,"NULL"}', '{"a  ",b,"  c"}', '{{"a b","c"},{NULL,"\\\\"}}'),
                  (2, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}',
                      '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}'),
                  (3, '[0:2]={1,2,3}', '[-5:-4][3:4]={{1,NULL},{NULL,4}}', '[1:1][1:1][0:0]={{{7}}}', '[2:3]={"x y",NULL}',
                      '[0:0]={NaN}', '[-1:0]={1,2}', '[5:5]={0}', '[0:1]={t,f}', '[0:0]={"2020-01-01 00:00:00"}',
                      '[0:0]={"2020-01-01 00:00:00+00"}', '[0:0]={2020-01-01}', '[0:0]={"{\\"k\\": 1}"}', '[0:0]={"[1]"}',
                      '[0:1]={(1,1),(0,0);(2,2),(1,1)}', '[0:0]={"(0,0)"}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                      NULL, NULL, '[0:1][0:0]={{a},{b}}'),
                  (4, '{NULL}', '{{NULL,NULL}}', '{{{NULL}}}', '{NULL,"NULL","null","Null"," NULL"}', '{NULL}', '{NULL}',
                      '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}',
                      '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{{NULL}}'),
                  (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
                  (6, '{1}', '{{1},{2},{3}}', '{{{1},{2}},{{3},{4}},{{5},{6}}}',
                      ARRAY[E'tab\\there', E'new\\nline', E'\\x01ctl', '{', '}', ',', '"', '\\', 'ünï', '😀', E'\\u2028'],
                      '{1,2}', '{1,2}', '{1,2}', '{t}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                      NULL, NULL, NULL, NULL, '{"  ", " x"}', NULL, NULL)""",
                """
                INSERT INTO arr (id, ia, ia2, ta, fa, tza)
                SELECT 100 + g, array_fill(g, ARRAY[g % 5]), array_fill(g, ARRAY[g % 3 + 1, g % 4 + 1], ARRAY[g % 7 - 3, 1]),
                       (SELECT array_agg(CASE WHEN x % 4 = 0 THEN NULL ELSE repeat(chr(32 + (x * 7 + g) % 95), x % 3) END)
                          FROM generate_series(1, g % 9 + 1) x),
                       ARRAY[g * 1.1e-10, g * 3.3e100, -g]::float8[],
                       ARRAY[timestamptz '2000-01-01 00:00+00' + g * interval '1 day 1 second']
                FROM generate_series(1, 120) g""");
    }

    @Test
    void vectorTypes() {
        db.execute("CREATE TABLE vec (id int PRIMARY KEY, i2v int2vector, ov oidvector, i2va int2vector[], ova oidvector[])");
        db.assertRoundTrip("vec", """
                INSERT INTO vec VALUES
                  (1, '1 2 3', '1 2 3', ARRAY['1 2'::int2vector, '3'::int2vector], ARRAY['4 5'::oidvector]),
                  (2, '', '', '{}', '{}'),
                  (3, '-32768 32767', '0 4294967295', ARRAY[''::int2vector, NULL], ARRAY[NULL::oidvector]),
                  (4, NULL, NULL, NULL, NULL)""");
    }

    @Test
    void composites() {
        db.execute("""
                CREATE TYPE addr AS (street text, zip int, tags text[], geo point)""", """
                CREATE TYPE person AS (name text, born date, home addr, scores numeric[], seen timestamptz, ok bool,
                                       doc jsonb, nick varchar(10), homes addr[], n float8, raw json)""", """
                CREATE TYPE gone AS (a int, b text, c numeric, d text)""",
                "ALTER TYPE gone DROP ATTRIBUTE b",
                "ALTER TYPE gone ADD ATTRIBUTE e timestamp",
                "CREATE TYPE nothing AS ()", """
                CREATE TABLE comp (id int PRIMARY KEY, a addr, p person, pa person[], aa addr[], g gone, e nothing,
                                   ga gone[], a2 addr[])""");
        db.assertRoundTrip("comp", """
                INSERT INTO comp VALUES
                  (1, ROW('Main St. 1', 12345, ARRAY['a','b c','"q"'], '(1,2)'),
                      ROW('Ann', '1990-05-17', ROW('Elm "Street"', 1, '{}', NULL), '{1.5,NaN,NULL}',
                          '2020-01-01 00:00:00+00', true, '{"k": [1, {"z": null}], "s": "x\\"y"}', 'annie',
                          ARRAY[ROW('a', 1, NULL, NULL)::addr, NULL, ROW(NULL, NULL, ARRAY[NULL, 'NULL'], NULL)::addr],
                          'Infinity', '{"dup": 1, "dup": 2}'),
                      ARRAY[ROW('x', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::person, NULL],
                      ARRAY[ROW('', 0, ARRAY['', NULL], '(0,0)')::addr],
                      ROW(1, 2.5, 'd', '2020-01-01 00:00:00'), ROW(), ARRAY[ROW(1, NULL, NULL, NULL)::gone],
                      '[0:1]={"(a,1,{x},\\"(1,2)\\")",NULL}'),
                  (2, ROW('', NULL, '{}', NULL), ROW('', NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL), '{}', '{}',
                      ROW(NULL, NULL, NULL, NULL), NULL, '{}', '{}'),
                  (3, ROW(NULL, NULL, NULL, NULL), ROW(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
                      ARRAY[ROW(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::person],
                      ARRAY[ROW(NULL, NULL, NULL, NULL)::addr, ROW(NULL, NULL, NULL, NULL)::addr], NULL, ROW(), NULL, NULL),
                  (4, ROW(E'quote " back \\\\ comma , paren ) ( brace { } semicolon ;', -1, ARRAY[NULL, 'NULL', '', '"', '\\\\'],
                          '(0,0)'),
                      ROW(E'line\\nbreak\\ttab\\r', '0044-03-15 BC', ROW(E'\\x01', 2, ARRAY['{', '}', ',', ' '], '(-1.5,2)'),
                          '{-Infinity,1e-30}', '-infinity', false, '[]', ' sp ', '{}', 'NaN', '"str"'),
                      ARRAY[ROW('p1', 'infinity', ROW('s', 1, '{a}', NULL), '{}', '0044-03-15 12:00:00+00 BC', false,
                                '"json string"', NULL, '{}', -0.0, '[1, "two"]')::person,
                            ROW('p2 "quoted"', NULL, NULL, NULL, NULL, true, 'null', '', NULL, 1e300, NULL)::person],
                      ARRAY[ROW('a)', 1, NULL, NULL)::addr, ROW('(b', 2, '{"x,y"}', NULL)::addr],
                      ROW(-1, 'NaN', '', 'infinity'), ROW(), ARRAY[ROW(NULL, NULL, 'NULL', NULL)::gone], NULL),
                  (5, ROW('ünïcödé 😀 𝄞', 2147483647, ARRAY['日本'], '(1e300,-1e-300)'), NULL, NULL, NULL,
                      ROW(NULL, -1e-100, NULL, '0044-03-15 12:00:00 BC'), NULL, NULL, NULL),
                  (6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)""");
    }

    @Test
    void tableRowTypesAndDroppedColumns() {
        db.execute("CREATE TABLE inner_t (x int, y text, z jsonb)",
                "ALTER TABLE inner_t DROP COLUMN y",
                "ALTER TABLE inner_t ADD COLUMN w bool",
                "CREATE TABLE outer_t (id int PRIMARY KEY, dropme text, r inner_t, ra inner_t[])",
                "ALTER TABLE outer_t DROP COLUMN dropme",
                "ALTER TABLE outer_t ADD COLUMN tail text");
        db.assertRoundTrip("outer_t", """
                INSERT INTO outer_t (id, r, ra, tail) VALUES
                  (1, ROW(1, '{"a": "b"}', true), ARRAY[ROW(2, NULL, NULL)::inner_t, NULL], 'x'),
                  (2, ROW(NULL, NULL, NULL), '{}', NULL),
                  (3, NULL, ARRAY[ROW(3, '[{"deep": [1, [2, [3]]]}]', false)::inner_t], '"')""");
    }

    @Test
    void enumsAndDomains() {
        db.execute("""
                CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'with space', 'with "quote"', 'comma,brace{', 'NULL',
                                          'ünï', 'back\\slash', '')""",
                "CREATE DOMAIN posint AS int CHECK (VALUE > 0)",
                "CREATE DOMAIN label AS text",
                "CREATE DOMAIN label2 AS label",
                "CREATE DOMAIN intlist AS int[]",
                "CREATE DOMAIN textlist AS text[] CHECK (cardinality(VALUE) < 10)",
                "CREATE DOMAIN amount AS numeric(10,2)",
                "CREATE DOMAIN fl AS float8",
                "CREATE DOMAIN when_ts AS timestamptz",
                "CREATE DOMAIN when_ts2 AS when_ts",
                "CREATE DOMAIN flag AS bool",
                "CREATE DOMAIN doc AS jsonb",
                "CREATE DOMAIN rawdoc AS json",
                "CREATE DOMAIN day AS date",
                "CREATE TYPE pt AS (x posint, l label2, m mood)",
                "CREATE DOMAIN pt_d AS pt",
                """
                CREATE TABLE dom (id int PRIMARY KEY, m mood, ma mood[], p posint, pa posint[], l label, l2 label2, il intlist,
                                  tl textlist, amt amount, f fl, fa fl[], w when_ts, w2 when_ts2, wa when_ts2[],
                                  b flag, d doc, rd rawdoc, dy day, c pt, cd pt_d, cda pt_d[])""");
        db.assertRoundTrip("dom", """
                INSERT INTO dom VALUES
                  (1, 'sad', '{sad,ok,"with space","with \\"quote\\"","comma,brace{",NULL,"NULL",ünï,"back\\\\slash",""}', 1,
                      '{1,2,NULL}', 'label', 'label2', '{1,2,3}', '{a,"b c",NULL}',
                      12.5, 'NaN', '{Infinity,1.5,-0}', '2020-01-01 12:00:00+00', '0044-03-15 12:00:00+00 BC',
                      ARRAY['infinity'::when_ts2, '2020-02-02 02:02:02.02+00'], true, '{"a": [1, 2]}', '{"a" : [1,2] }',
                      '0044-03-15 BC', ROW(1, 'x "y"', 'with "quote"'), ROW(2, '', 'NULL'), ARRAY[ROW(3, NULL, NULL)::pt_d]),
                  (2, 'with "quote"', '{}', 2147483647, '{}', '', '', '{}', '{}', -0.01, '-Infinity', '{}',
                      'infinity', '-infinity', '{}', false, 'null', 'null', 'infinity', ROW(NULL, NULL, NULL), NULL, '{}'),
                  (3, '', '{""}', NULL, NULL, 'NULL', 'null', '[0:1]={1,2}', '{"",""}', NULL, 1e-300, NULL, NULL, NULL,
                      NULL, NULL, '"x"', '"x"', NULL, NULL, NULL, NULL),
                  (4, 'back\\slash', '{"back\\\\slash"}', 7, '[3:3]={7}', E'\\t', E'\\n', '{{1,2},{3,4}}',
                      NULL, 99999999.99, 1e300, NULL, NULL, NULL, NULL, NULL, '[]', '[]',
                      NULL, NULL, NULL, NULL)""");
    }

    @Test
    void rangesAndMultiranges() {
        db.execute("CREATE TYPE floatrange AS RANGE (subtype = float8)",
                "CREATE TYPE textrange AS RANGE (subtype = text, collation = \"C\")", """
                CREATE TABLE rng (id int PRIMARY KEY, r4 int4range, r8 int8range, rn numrange, rts tsrange, rtz tstzrange,
                                  rd daterange, rf floatrange, rt textrange, m4 int4multirange, m8 int8multirange,
                                  mn nummultirange, mts tsmultirange, mtz tstzmultirange, md datemultirange,
                                  mf floatmultirange, ra int4range[], rtza tstzrange[], ma int4multirange[], rta textrange[])""");
        db.assertRoundTrip("rng", """
                INSERT INTO rng VALUES
                  (1, '[1,10)', '[-9223372036854775808,9223372036854775807)', '[1.5,NaN)', '["2020-01-01 00:00","infinity")',
                      '["2020-01-01 00:00+00","2021-01-01 00:00+05")', '[2020-01-01,infinity)', '[-Infinity,NaN]',
                      '["a b","z\\"q")', '{[1,3),[5,7)}', '{}', '{[1.5,2.5],(3,)}', '{["2020-01-01","2020-01-02")}',
                      '{["2020-01-01 00:00+00","2020-01-02 00:00+00"),["2021-01-01 00:00+00",)}', '{[2020-01-01,2020-02-01)}',
                      '{[1.5,2.5),[3,Infinity]}', '{"[1,2)",empty,NULL}', '{"[\\"2020-01-01 00:00:00+00\\",)"}',
                      ARRAY['{[1,2)}'::int4multirange, '{}'], ARRAY['[a,b)'::textrange, '["\\\\","{")']),
                  (2, 'empty', 'empty', 'empty', 'empty', 'empty', 'empty', 'empty', 'empty', '{}', '{}', '{}', '{}', '{}',
                      '{}', '{}', '{}', '{}', '{}', '{}'),
                  (3, '(,)', '(,5)', '(,)', '(,)', '[-infinity,infinity]', '(,)', '(,)', '(,)', '{(,)}', '{(,5)}', '{(,)}',
                      '{(,)}', '{(,)}', '{(,)}', '{(,)}', NULL, NULL, NULL, NULL),
                  (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                      NULL, NULL)""");
    }

    @Test
    void otherScalarTypes() {
        db.execute("""
                CREATE TABLE misc (id int PRIMARY KEY, ip inet, net cidr, mac macaddr, mac8 macaddr8, m money, b bit(8),
                                   vb varbit, by bytea, u uuid, j json, jb jsonb, x xml, pt point, ln line, ls lseg, bx box,
                                   pth path, pg polygon, ci circle, tv tsvector, tq tsquery, o oid, lsn pg_lsn, iv interval,
                                   rc regclass, rt regtype, x8 xid8, dropme int, jp jsonpath, bo bool)""",
                "ALTER TABLE misc DROP COLUMN dropme");
        db.assertRoundTrip("misc", """
                INSERT INTO misc VALUES
                  (1, '10.0.0.1', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', 1234.56, B'10101010', B'1',
                      '\\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1, "a": 2, "b": [1, 2.50, "x"]}',
                      '{"b": 1, "a": [true, false, null], "c": {"d": "e\\"f"}}', '<a attr="v">text &amp; more</a>', '(1.5,-2)',
                      '{1,-1,0}', '[(0,0),(1,1)]', '(1,1),(0,0)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))', '<(0,0),5>',
                      'a fat cat sat on a mat and ate a fat rat', 'fat & (rat | cat)', 4294967295, '16/B374D848',
                      '1 year 2 mons 3 days 04:05:06.789', 'pg_class', 'integer', '18446744073709551615', '$.a[*] ? (@ > 2)',
                      true),
                  (2, '::1', '2001:db8::/32', '00:00:00:00:00:00', '00:00:00:00:00:00:00:00', -0.01, B'00000000', B'',
                      '\\x', '00000000-0000-0000-0000-000000000000', '  [1,  2,  {"x" : "y"}]  ', '[]', '<r/>', '(0,0)',
                      '{0,1,0}', '[(0,0),(0,0)]', '(0,0),(0,0)', '((0,0))', '((0,0))', '<(0,0),0>', '', '', 0, '0/0',
                      '-1 days +02:00:00', 'misc', 'text[]', '0', '$', false),
                  (3, '192.168.1.1/24', '192.168.1.0/24', NULL, NULL, 92233720368547758.07, B'11111111',
                      B'1010101010101010101010101010101010101', '\\x5c22275c6e', NULL, '"str"', '"str"',
                      'plain text &amp; <tag/>', '(1e300,-1e-300)', NULL, NULL, NULL, NULL, NULL, NULL, '''quoted'' "dq" \\\\',
                      '''a b'':*', NULL, 'FFFFFFFF/FFFFFFFF', '178000000 years', NULL, '"char"', NULL, 'strict $.a', NULL)""",
                """
                INSERT INTO misc (id, m, j, jb) VALUES
                  (4, -92233720368547758.08, 'null', 'null'),
                  (5, NULL, '123.4500', '123.4500'),
                  (6, NULL, '{"nested": {"deep": [[[]]], "e": "\\u00e9\\n"}}', '{"nested": {"deep": [[[]]], "e": "\\u00e9\\n"}}'),
                  (7, NULL, '1e5', '-0.0'),
                  (8, NULL, '{"a": "\\ud83d\\ude00", "b": "\\u0001"}', '{"a": "\\ud83d\\ude00", "b": "\\u0001"}')""",
                "INSERT INTO misc (id, by) SELECT 100, string_agg(set_byte('\\x00'::bytea, 0, g), ''::bytea) FROM generate_series(0, 255) g");
    }

    /**
     * Known gap, pinned down so that it stays visible: for a user-defined type with an explicit cast
     * to json (hstore is the common case), to_jsonb runs the cast function; the converter cannot and
     * writes the text output as a JSON string. PgTypes flags such types.
     */
    @Test
    void typesWithACastToJsonAreAKnownGap() throws SQLException {
        db.execute("CREATE TYPE casted AS ENUM ('a')",
                "CREATE FUNCTION casted_json(casted) RETURNS json LANGUAGE sql IMMUTABLE"
                        + " AS $$ SELECT json_build_object('v', $1::text) $$",
                "CREATE CAST (casted AS json) WITH FUNCTION casted_json(casted)");
        try (Statement s = db.conn.createStatement();
             ResultSet rs = s.executeQuery("SELECT 'casted'::regtype::oid::int8, to_jsonb('a'::casted)::text")) {
            assertThat(rs.next()).isTrue();
            int oid = (int) rs.getLong(1);
            assertThat(db.types.get(oid).castToJson()).isTrue();
            assertThat(rs.getString(2)).isEqualTo("{\"v\": \"a\"}");
            assertThat(db.converter.toJson(oid, "a")).isEqualTo("\"a\"");
        }
    }
}
