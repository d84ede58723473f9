package io.annals.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.annals.changelog.ChangeLog;
import io.annals.changelog.Position;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code annals history}, {@code as-of} and {@code diff} over a change log with known changes,
 * written straight into {@code annals.changes} so that every line of output can be checked.
 */
class HistoryCommandsTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String P1 = Position.of(0x2000, 0).toString();
    static final String P2 = Position.of(0x2000, 1).toString();
    static final String P3 = Position.of(0x3000, 0).toString();
    static final String P4 = Position.of(0x3000, 1).toString();
    static final String P5 = Position.of(0x4000, 0).toString();

    static String url;

    /**
     * <pre>
     * xid 100 @10:00  P1 CREATE orders 1 (user 42, /orders); P2 CREATE orders 2 (user 42)
     * xid 101 @11:00  P3 UPDATE orders 2 status new->paid, amount 99->120 (user 7); P4 CREATE customers 1
     * xid 102 @12:00  P5 DELETE orders 1
     * </pre>
     */
    @BeforeAll
    static void changeLog() throws Exception {
        url = TestPostgres.newDatabase("cli_history");
        ChangeLog log = ChangeLog.at(url);
        log.migrate();
        // Rows written straight into the partitioned log need their partitions first.
        log.preparePartitions(Instant.parse("2026-11-01T10:00:00Z"), Instant.parse("2026-11-01T12:00:00Z"));
        try (Connection c = TestPostgres.connect(url); PreparedStatement ps = c.prepareStatement(
                "INSERT INTO annals.changes (position, transaction_id, committed_at, database, \"schema\", \"table\","
                        + " operation, primary_key, before, after, changed_columns, context)"
                        + " VALUES (?, ?, ?, current_database(), 'public', ?, ?, ?::jsonb, ?::jsonb, ?::jsonb, ?::text[], ?::jsonb)")) {
            add(ps, P1, 100, "10:00", "orders", "CREATE", "{\"id\": 1}", null,
                    "{\"id\": 1, \"status\": \"new\", \"amount\": 10.50, \"note\": null}", "{id,status,amount,note}",
                    "{\"user_id\": 42, \"endpoint\": \"/orders\"}");
            add(ps, P2, 100, "10:00", "orders", "CREATE", "{\"id\": 2}", null,
                    "{\"id\": 2, \"status\": \"new\", \"amount\": 99, \"note\": \"rush, \\\"fragile\\\"\"}",
                    "{id,status,amount,note}", "{\"user_id\": 42}");
            add(ps, P3, 101, "11:00", "orders", "UPDATE", "{\"id\": 2}",
                    "{\"id\": 2, \"status\": \"new\", \"amount\": 99, \"note\": \"rush, \\\"fragile\\\"\"}",
                    "{\"id\": 2, \"status\": \"paid\", \"amount\": 120, \"note\": \"rush, \\\"fragile\\\"\"}",
                    "{status,amount}", "{\"user_id\": 7}");
            add(ps, P4, 101, "11:00", "customers", "CREATE", "{\"id\": 1}", null, "{\"id\": 1, \"name\": \"Ann\"}",
                    "{id,name}", "{}");
            add(ps, P5, 102, "12:00", "orders", "DELETE", "{\"id\": 1}",
                    "{\"id\": 1, \"status\": \"new\", \"amount\": 10.50, \"note\": null}", null, "{id,status,amount,note}", "{}");
            ps.executeBatch();
        }
    }

    private static void add(PreparedStatement ps, String position, long xid, String time, String table, String op,
                            String key, String before, String after, String changed, String context) throws Exception {
        ps.setString(1, position);
        ps.setLong(2, xid);
        ps.setObject(3, OffsetDateTime.ofInstant(Instant.parse("2026-11-01T" + time + ":00Z"), ZoneOffset.UTC));
        ps.setString(4, table);
        ps.setString(5, op);
        ps.setString(6, key);
        ps.setString(7, before);
        ps.setString(8, after);
        ps.setString(9, changed);
        ps.setString(10, context);
        ps.addBatch();
    }

    private static Cli annals(String... args) {
        return Cli.onSource(url, args);
    }

    private static List<String> lines(String text) {
        return text.lines().toList();
    }

    @Test
    void historyPrintsAReadableTable() {
        Cli r = annals("history");
        assertThat(r.exit()).as(r.both()).isZero();
        List<String> lines = lines(r.out());
        assertThat(lines.get(0)).startsWith("position").contains("committed_at (UTC)", "tx", "op", "table", "key", "changes", "context");
        assertThat(lines.get(1)).matches("[-+]+");
        assertThat(lines.subList(2, 7)).extracting(l -> l.substring(0, 25)).containsExactly(P1, P2, P3, P4, P5);
        assertThat(lines.get(2)).contains("2026-11-01 10:00:00.000", "100", "CREATE", "public.orders", "{\"id\":1}",
                "{\"user_id\":42,\"endpoint\":\"/orders\"}");
        assertThat(lines.get(4)).contains("UPDATE", "status: \"new\" -> \"paid\"; amount: 99 -> 120", "{\"user_id\":7}");
        assertThat(lines.get(6)).contains("DELETE", "{\"id\":1,\"note\":null,\"amount\":10.50,\"status\":\"new\"}");
        assertThat(lines.get(7)).isEqualTo("5 change(s).");
        assertThat(lines).hasSize(8);
        // Every row lines up under the header.
        int keyColumn = lines.get(0).indexOf("| key");
        assertThat(lines.subList(2, 7)).allSatisfy(l -> assertThat(l.charAt(keyColumn)).isEqualTo('|'));
    }

    @Test
    void historyAsJsonLinesCarriesTheFullImagesExactly() throws Exception {
        Cli r = annals("history", "--table", "orders", "--format", "json");
        assertThat(r.exit()).as(r.both()).isZero();
        List<String> lines = lines(r.out());
        assertThat(lines).hasSize(4);
        JsonNode first = JSON.readTree(lines.get(0));
        assertThat(first.get("position").asText()).isEqualTo(P1);
        assertThat(first.get("committed_at").asText()).isEqualTo("2026-11-01T10:00:00Z");
        assertThat(first.get("transaction_id").asLong()).isEqualTo(100);
        assertThat(first.get("table").asText()).isEqualTo("orders");
        assertThat(first.get("operation").asText()).isEqualTo("CREATE");
        assertThat(first.get("before").isNull()).isTrue();
        assertThat(lines.get(0)).contains("\"after\":{\"id\":1,\"note\":null,\"amount\":10.50,\"status\":\"new\"}");
        JsonNode update = JSON.readTree(lines.get(2));
        assertThat(update.get("before").get("amount").asInt()).isEqualTo(99);
        assertThat(update.get("after").get("note").asText()).isEqualTo("rush, \"fragile\"");
        assertThat(update.get("changed_columns").toString()).isEqualTo("[\"status\",\"amount\"]");
        assertThat(update.get("context").get("user_id").asInt()).isEqualTo(7);
    }

    @Test
    void historyAsCsvFollowsRfc4180() {
        Cli r = annals("history", "--key", "id=2", "--table", "orders", "--format", "csv");
        assertThat(r.exit()).as(r.both()).isZero();
        String[] records = r.out().split("\r\n", -1);
        assertThat(records).hasSize(4); // header, 2 changes, "" after the last CRLF
        assertThat(records[0]).isEqualTo("position,committed_at,transaction_id,operation,schema,table,primary_key,"
                + "changed_columns,before,after,context");
        assertThat(records[1]).isEqualTo(P2 + ",2026-11-01T10:00:00Z,100,CREATE,public,orders,\"{\"\"id\"\":2}\","
                + "\"[\"\"id\"\",\"\"status\"\",\"\"amount\"\",\"\"note\"\"]\",,"
                + "\"{\"\"id\"\":2,\"\"note\"\":\"\"rush, \\\"\"fragile\\\"\"\"\",\"\"amount\"\":99,\"\"status\"\":\"\"new\"\"}\","
                + "\"{\"\"user_id\"\":42}\"");
        assertThat(records[2]).startsWith(P3 + ",2026-11-01T11:00:00Z,101,UPDATE,");
        assertThat(records[3]).isEmpty();
    }

    @Test
    void historyFiltersLikeTheApi() {
        assertThat(positions(annals("history", "--where", "after.status = paid"))).containsExactly(P3);
        assertThat(positions(annals("history", "--where", "before.amount>=99", "--where", "after.amount < 121")))
                .containsExactly(P3);
        assertThat(positions(annals("history", "--where", "after.note = null"))).containsExactly(P1);
        assertThat(positions(annals("history", "--context", "user_id=42"))).containsExactly(P1, P2);
        assertThat(positions(annals("history", "--context", "user_id=\"42\""))).isEmpty(); // a string is not the number
        assertThat(positions(annals("history", "--context", "user_id=42", "--context", "endpoint=/orders"))).containsExactly(P1);
        assertThat(positions(annals("history", "--op", "delete,UPDATE"))).containsExactly(P3, P5);
        assertThat(positions(annals("history", "--changed", "amount", "--table", "orders", "--table", "customers")))
                .containsExactly(P1, P2, P3, P5);
        assertThat(positions(annals("history", "--transaction", "101"))).containsExactly(P3, P4);
        assertThat(positions(annals("history", "--since", "2026-11-01 11:00", "--until", "2026-11-01T12:00:00Z"))).containsExactly(P3, P4);
        assertThat(positions(annals("history", "--after", P2, "--before", P5))).containsExactly(P3, P4);
        assertThat(positions(annals("history", "--desc", "--table", "public.orders"))).containsExactly(P5, P3, P2, P1);
    }

    @Test
    void limitSaysWhenMoreMatchAndZeroShowsAll() {
        Cli limited = annals("history", "--limit", "2");
        assertThat(positions(limited)).containsExactly(P1, P2);
        assertThat(limited.out()).contains("2 change(s); more changes match: raise --limit, or use --limit 0 to show them all.");
        Cli exact = annals("history", "--limit", "5");
        assertThat(exact.out()).contains("5 change(s).").doesNotContain("more changes match");
        Cli all = annals("history", "--limit", "0", "--format", "json");
        assertThat(lines(all.out())).hasSize(5);
        assertThat(all.err()).isEmpty();
        Cli json = annals("history", "--limit", "1", "--format", "json");
        assertThat(lines(json.out())).hasSize(1);
        assertThat(json.err()).contains("showed the first 1 changes; more changes match");
    }

    private static List<String> positions(Cli r) {
        assertThat(r.exit()).as(r.both()).isZero();
        return lines(r.out()).stream().filter(l -> l.matches("[0-9A-F]{16}\\.[0-9A-F]{8} .*")).map(l -> l.substring(0, 25)).toList();
    }

    @Test
    void asOfPrintsOneTableInEachFormat() throws Exception {
        Cli table = annals("as-of", "--at", "2026-11-01 11:30", "--table", "orders");
        assertThat(table.exit()).as(table.both()).isZero();
        assertThat(lines(table.out())).containsExactly(
                "id | note            | amount | status",
                "---+-----------------+--------+-------",
                "1  | NULL            | 10.50  | new",
                "2  | rush, \"fragile\" | 120    | paid",
                "2 row(s) of orders as of 2026-11-01T11:30:00Z (position " + P4 + ").");

        Cli json = annals("as-of", "--at", P2, "--table", "orders", "--format", "json");
        assertThat(json.exit()).as(json.both()).isZero();
        assertThat(lines(json.out())).hasSize(2);
        assertThat(JSON.readTree(lines(json.out()).get(0))).isEqualTo(JSON.readTree("{\"id\":1,\"status\":\"new\",\"amount\":10.50,\"note\":null}"));
        assertThat(JSON.readTree(lines(json.out()).get(1)).get("status").asText()).isEqualTo("new");

        Cli csv = annals("as-of", "--at", "2026-11-01T12:00:00Z", "--table", "orders", "--format", "csv");
        assertThat(csv.exit()).as(csv.both()).isZero();
        assertThat(csv.out()).isEqualTo("id,note,amount,status\r\n2,\"rush, \"\"fragile\"\"\",120,paid\r\n");
    }

    @Test
    void asOfIntoMaterializesTablesForPlainSql() throws Exception {
        Cli r = annals("as-of", "--at", "2026-11-01 11:30", "--table", "orders", "--table", "customers", "--into", "past");
        assertThat(r.exit()).as(r.both()).isZero();
        assertThat(r.out()).contains("Materialized 2 table(s), 3 row(s), as of 2026-11-01T11:30:00Z (position " + P4
                + ") into schema past:", "public.orders    | past.orders    | 2", "public.customers | past.customers | 1");
        assertThat(query("SELECT id || ':' || status || ':' || amount FROM past.orders ORDER BY id")).containsExactly("1:new:10.50", "2:paid:120");
        assertThat(query("SELECT name FROM past.customers")).containsExactly("Ann");

        Cli again = annals("as-of", "--at", "2026-11-01 12:30", "--table", "orders", "--into", "past");
        assertThat(again.exit()).isEqualTo(2);
        assertThat(again.err()).startsWith("annals: Table past.orders already exists").contains("--replace");
        Cli replaced = annals("as-of", "--at", "2026-11-01 12:30", "--all-tables", "--into", "past", "--replace");
        assertThat(replaced.exit()).as(replaced.both()).isZero();
        assertThat(replaced.out()).contains("Materialized 2 table(s), 2 row(s)");
        assertThat(query("SELECT id || ':' || status FROM past.orders ORDER BY id")).containsExactly("2:paid");
    }

    private static List<String> query(String sql) {
        return TestPostgres.rows(url, sql);
    }

    @Test
    void diffShowsRowsAddedRemovedAndChanged() throws Exception {
        Cli table = annals("diff", "--table", "orders", "--from", "2026-11-01 10:30", "--to", "2026-11-01 12:30");
        assertThat(table.exit()).as(table.both()).isZero();
        assertThat(lines(table.out())).containsExactly(
                "kind    | key      | columns",
                "--------+----------+---------------------------------------------------",
                "REMOVED | {\"id\":1} | {\"id\":1,\"note\":null,\"amount\":10.50,\"status\":\"new\"}",
                "CHANGED | {\"id\":2} | amount: 99 -> 120; status: \"new\" -> \"paid\"",
                "2 row(s) differ.");

        Cli json = annals("diff", "--table", "orders", "--from", P2, "--to", "2026-11-01 11:00", "--format", "json");
        assertThat(json.exit()).as(json.both()).isZero();
        assertThat(lines(json.out())).hasSize(1);
        JsonNode changed = JSON.readTree(lines(json.out()).get(0));
        assertThat(changed.get("kind").asText()).isEqualTo("CHANGED");
        assertThat(changed.get("key").toString()).isEqualTo("{\"id\":2}");
        assertThat(changed.get("columns").toString()).isEqualTo(
                "[{\"column\":\"amount\",\"old\":99,\"new\":120},{\"column\":\"status\",\"old\":\"new\",\"new\":\"paid\"}]");

        Cli csv = annals("diff", "--table", "orders", "--from", P1, "--to", P5, "--format", "csv");
        assertThat(csv.exit()).as(csv.both()).isZero();
        assertThat(csv.out().split("\r\n")).containsExactly("kind,key,column,old,new",
                "REMOVED,\"{\"\"id\"\":1}\",id,1,", "REMOVED,\"{\"\"id\"\":1}\",note,,",
                "REMOVED,\"{\"\"id\"\":1}\",amount,10.50,", "REMOVED,\"{\"\"id\"\":1}\",status,new,",
                "ADDED,\"{\"\"id\"\":2}\",id,,2", "ADDED,\"{\"\"id\"\":2}\",note,,\"rush, \"\"fragile\"\"\"",
                "ADDED,\"{\"\"id\"\":2}\",amount,,120", "ADDED,\"{\"\"id\"\":2}\",status,,paid");
    }

    @Test
    void badInputExitsTwoWithOneLineThatSaysHowToFixIt() {
        assertError(annals("history", "--since", "yesterday"), "annals: Not an instant: 'yesterday'; use e.g. 2026-11-23T10:15:30Z");
        assertError(annals("history", "--table", "ordrs"), "annals: Unknown table 'public.ordrs'");
        assertError(annals("history", "--where", "status = paid"), "annals: --where 'status = paid': it must start with before. or after.");
        assertError(annals("history", "--where", "after.status != paid"), "unsupported operator '!=' (write <>)");
        assertError(annals("history", "--where", "after.status ="), "the value is missing");
        assertError(annals("history", "--key", "7"), "annals: --key '7' is not name=value; use e.g. --key id=42");
        assertError(annals("history", "--op", "INSERT"), "annals: --op 'INSERT' is not one of create, update, delete, truncate, snapshot");
        assertError(annals("history", "--format", "xml"), "annals: --format 'xml' is not one of table, json, csv");
        assertError(annals("history", "--after", "yesterday"), "annals: Not a position: 'yesterday'");
        assertError(annals("history", "--limit", "-1"), "annals: --limit -1 is negative");
        assertError(annals("history", "--transaction", "x"), "annals: Invalid value for option '--transaction'");
        assertError(annals("as-of", "--table", "orders"), "annals: Missing required option: '--at=<instant|position>' (see 'annals as-of --help')");
        assertError(annals("as-of", "--at", "soon", "--table", "orders"), "annals: --at 'soon' is neither an instant nor a position");
        assertError(annals("as-of", "--at", "2026-11-01", "--table", "orders"), "annals: Cannot read public.orders as of 2026-11-01T00:00:00Z");
        assertError(annals("as-of", "--at", P5, "--table", "orders", "--table", "customers"), "annals: Printing rows takes exactly one --table; to copy several tables (or --all-tables) add --into <schema>");
        assertError(annals("as-of", "--at", P5, "--table", "nope", "--into", "x"), "annals: Unknown table 'public.nope'");
        assertError(annals("diff", "--table", "orders", "--from", P5, "--to", P1), "annals: A diff goes from an earlier cut to a later one");
        assertError(annals("diff", "--table", "orders", "--from", "2020-01-01", "--to", P5), "annals: --from 2020-01-01T00:00:00Z is before the change log's first change");
        assertError(Cli.run("history"), "annals: No --source given and no embedded PostgreSQL in .annals/postgres");
        assertError(Cli.run("history", "--source", "jdbc:mysql://db/app"), "annals: --source 'jdbc:mysql://db/app' is not a PostgreSQL JDBC URL");
    }

    static void assertError(Cli r, String message) {
        assertThat(r.exit()).as(r.both()).isEqualTo(2);
        assertThat(r.err()).as(r.both()).contains(message).doesNotContain("Exception", "\tat ");
        assertThat(r.err().lines().count()).as(r.both()).isEqualTo(1);
        assertThat(r.out()).as(r.both()).isEmpty();
    }

    @Test
    void everyHistoryCommandHelpHasExamples() {
        for (String command : List.of("history", "as-of", "diff", "revert")) {
            Cli r = Cli.run(command, "--help");
            assertThat(r.exit()).as(command).isZero();
            assertThat(r.out()).as(command).contains("Examples:", "annals " + command + " --source");
        }
    }
}
