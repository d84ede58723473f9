package io.annals.capture.value;

import io.annals.capture.value.PgType.Attribute;
import io.annals.capture.value.PgType.Kind;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PgTypesTest {

    private String url;
    private Connection conn;

    @BeforeAll
    void createDatabase() throws SQLException {
        url = TestPostgres.newDatabase("value_types");
        conn = TestPostgres.connect(url);
        try (Statement s = conn.createStatement()) {
            s.execute("CREATE TYPE mood AS ENUM ('sad', 'happy')");
            s.execute("CREATE DOMAIN posint AS int CHECK (VALUE > 0)");
            s.execute("CREATE DOMAIN posint2 AS posint");
            s.execute("CREATE DOMAIN intlist AS int[]");
            s.execute("CREATE TYPE addr AS (street text, zip int, tags text[])");
            s.execute("CREATE TYPE gone AS (a int, b text, c numeric)");
            s.execute("ALTER TYPE gone DROP ATTRIBUTE b");
            s.execute("CREATE TYPE nested AS (home addr, homes addr[], m mood, p posint2)");
            s.execute("CREATE TYPE floatrange AS RANGE (subtype = float8)");
            s.execute("CREATE TABLE row_t (x int, y text, z bool)");
            s.execute("ALTER TABLE row_t DROP COLUMN y");
            s.execute("CREATE TYPE casted AS ENUM ('a')");
            s.execute("CREATE FUNCTION casted_json(casted) RETURNS json LANGUAGE sql IMMUTABLE AS $$ SELECT json_build_object('v', $1::text) $$");
            s.execute("CREATE CAST (casted AS json) WITH FUNCTION casted_json(casted)");
        }
    }

    @AfterAll
    void close() throws SQLException {
        conn.close();
    }

    private PgTypes types() {
        return new PgTypes(() -> TestPostgres.connect(url));
    }

    private int oid(String type) throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement("SELECT ?::regtype::oid::int8")) {
            ps.setString(1, type);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return (int) rs.getLong(1);
            }
        }
    }

    @Test
    void builtinTypesNeedNoCatalogQuery() {
        PgTypes types = PgTypes.builtinsOnly();
        for (int oid : new int[]{16, 21, 23, 20, 700, 701, 1700, 25, 1043, 1042, 114, 3802, 1114, 1184, 1082, 1083, 1266,
                1186, 17, 2950, 869, 650, 1000, 1005, 1007, 1016, 1021, 1022, 1231, 1009, 1015, 199, 3807, 1115, 1185,
                1182, 1183, 1270, 1187, 1001, 2951, 1041, 3904, 3905, 4451, 6150, 22, 30, 1006, 1013}) {
            assertThat(types.get(oid)).as("OID %d", oid).isNotNull();
        }
        assertThat(types.catalogQueries()).isZero();
        assertThat(types.get(1007)).isEqualTo(PgType.array(1007, "_int4", 23, ','));
        assertThat(types.get(1020).delimiter()).isEqualTo(';');
        assertThat(types.get(3904).kind()).isEqualTo(Kind.RANGE);
        assertThat(types.get(4451).kind()).isEqualTo(Kind.MULTIRANGE);
        assertThatThrownBy(() -> types.get(16384)).isInstanceOf(TypeLookupException.class);
        assertThat(types.catalogQueries()).isEqualTo(1);
    }

    @Test
    void staticTableMatchesTheCatalog() throws SQLException {
        PgTypes types = types();
        List<PgType> builtins = PgTypes.builtins();
        assertThat(builtins).hasSizeGreaterThan(150);
        for (PgType b : builtins) {
            assertThat(types.readFromCatalog(b.oid())).as("built-in %s", b.name()).isEqualTo(b);
        }
        // Every scalar type shipped with PostgreSQL that a table column can use, and its array, is in the table.
        List<String> missing = new ArrayList<>();
        try (Statement s = conn.createStatement();
             ResultSet rs = s.executeQuery("SELECT t.oid::int8, t.typname FROM pg_type t WHERE t.oid < 10000"
                     + " AND t.typtype IN ('b', 'r', 'm', 'e', 'd') AND t.typisdefined"
                     + " AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.oid = t.typelem AND e.typtype IN ('c', 'p'))"
                     + " AND t.typname NOT IN ('pg_node_tree', 'pg_ndistinct', 'pg_dependencies', 'pg_mcv_list',"
                     + "   'pg_brin_bloom_summary', 'pg_brin_minmax_multi_summary', '_cstring')")) {
            while (rs.next()) {
                if (PgTypes.builtin((int) rs.getLong(1)) == null) missing.add(rs.getString(2));
            }
        }
        assertThat(missing).as("built-in types missing from the static table").isEmpty();
    }

    @Test
    void userDefinedTypesAreLookedUpLazilyWithWhatTheyReferTo() throws SQLException {
        PgTypes types = types();
        PgType nested = types.get(oid("nested"));
        assertThat(types.catalogQueries()).isEqualTo(1);
        assertThat(nested.kind()).isEqualTo(Kind.COMPOSITE);
        assertThat(nested.name()).isEqualTo("nested");
        assertThat(nested.attributes()).containsExactly(
                new Attribute("home", oid("addr")), new Attribute("homes", oid("addr[]")),
                new Attribute("m", oid("mood")), new Attribute("p", oid("posint2")));
        // Everything nested refers to came with the same lookup.
        PgType addr = types.get(oid("addr"));
        assertThat(addr.attributes()).containsExactly(new Attribute("street", 25), new Attribute("zip", 23),
                new Attribute("tags", 1009));
        PgType addrArray = types.get(oid("addr[]"));
        assertThat(addrArray.kind()).isEqualTo(Kind.ARRAY);
        assertThat(addrArray.elementOid()).isEqualTo(oid("addr"));
        assertThat(addrArray.delimiter()).isEqualTo(',');
        assertThat(types.get(oid("mood")).kind()).isEqualTo(Kind.ENUM);
        PgType posint2 = types.get(oid("posint2"));
        assertThat(posint2.kind()).isEqualTo(Kind.DOMAIN);
        assertThat(posint2.baseOid()).isEqualTo(oid("posint"));
        assertThat(types.get(oid("posint")).baseOid()).isEqualTo(23);
        assertThat(types.catalogQueries()).isEqualTo(1);

        PgType intlist = types.get(oid("intlist"));
        assertThat(intlist.kind()).isEqualTo(Kind.DOMAIN);
        assertThat(intlist.baseOid()).isEqualTo(1007);
        assertThat(types.get(oid("floatrange")).kind()).isEqualTo(Kind.RANGE);
        assertThat(types.get(oid("floatmultirange")).kind()).isEqualTo(Kind.MULTIRANGE);
        assertThat(types.get(oid("floatrange[]")).elementOid()).isEqualTo(oid("floatrange"));
        assertThat(types.get(oid("mood[]")).kind()).isEqualTo(Kind.ARRAY);
        assertThat(types.get(oid("posint[]")).elementOid()).isEqualTo(oid("posint"));
        assertThat(types.get(oid("mood")).castToJson()).isFalse();
        assertThat(types.get(oid("casted")).castToJson()).isTrue();
    }

    @Test
    void droppedAttributesAreLeftOut() throws SQLException {
        PgTypes types = types();
        assertThat(types.get(oid("gone")).attributes()).containsExactly(new Attribute("a", 23), new Attribute("c", 1700));
        PgType row = types.get(oid("row_t"));
        assertThat(row.kind()).isEqualTo(Kind.COMPOSITE);
        assertThat(row.attributes()).containsExactly(new Attribute("x", 23), new Attribute("z", 16));
        // System catalog row types are not in the static table but resolve like any composite.
        PgType pgClassArray = types.get(oid("pg_class[]"));
        assertThat(types.get(pgClassArray.elementOid()).attributes()).extracting(Attribute::name).contains("relname");
    }

    @Test
    void invalidationPicksUpSchemaChanges() throws SQLException {
        try (Statement s = conn.createStatement()) {
            s.execute("CREATE TYPE changing AS (a int)");
        }
        PgTypes types = types();
        int oid = oid("changing");
        assertThat(types.get(oid).attributes()).hasSize(1);
        try (Statement s = conn.createStatement()) {
            s.execute("ALTER TYPE changing ADD ATTRIBUTE b text");
        }
        assertThat(types.get(oid).attributes()).as("cached").hasSize(1);
        types.invalidate(oid);
        assertThat(types.get(oid).attributes()).extracting(Attribute::name).containsExactly("a", "b");
        try (Statement s = conn.createStatement()) {
            s.execute("ALTER TYPE changing DROP ATTRIBUTE a");
        }
        types.invalidateAll();
        assertThat(types.get(oid).attributes()).extracting(Attribute::name).containsExactly("b");
        types.invalidateAll();
        assertThat(types.get(16).name()).as("built-ins survive invalidation").isEqualTo("bool");
    }

    @Test
    void unknownOidFails() {
        PgTypes types = types();
        assertThatThrownBy(() -> types.get(999_999_999)).isInstanceOf(TypeLookupException.class)
                .hasMessageContaining("999999999").hasMessageContaining("does not exist");
        assertThatThrownBy(() -> types.get(-5)).isInstanceOf(TypeLookupException.class)
                .hasMessageContaining("4294967291");
    }

    @Test
    void concurrentLookupsAgree() throws Exception {
        List<String> names = List.of("mood", "posint", "posint2", "intlist", "addr", "addr[]", "gone", "nested",
                "floatrange", "floatmultirange", "row_t", "mood[]", "nested[]");
        Map<String, PgType> expected = new java.util.HashMap<>();
        for (String n : names) expected.put(n, types().get(oid(n)));
        Map<String, Integer> oids = new java.util.HashMap<>();
        for (String n : names) oids.put(n, oid(n));

        AtomicInteger opened = new AtomicInteger();
        PgTypes shared = new PgTypes(() -> {
            opened.incrementAndGet();
            return TestPostgres.connect(url);
        });
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Callable<Void>> jobs = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int offset = t;
                jobs.add(() -> {
                    for (int round = 0; round < 200; round++) {
                        String n = names.get((round + offset) % names.size());
                        assertThat(shared.get(oids.get(n))).isEqualTo(expected.get(n));
                        if (round % 50 == 49) shared.invalidate(oids.get(n));
                    }
                    return null;
                });
            }
            for (Future<Void> f : pool.invokeAll(jobs)) f.get();
        } finally {
            pool.shutdownNow();
        }
        assertThat(opened.get()).as("connections opened").isLessThan(8 * 200);
    }
}
