package io.annals.capture.value;

import io.annals.capture.value.PgType.Attribute;
import io.annals.capture.value.PgType.Kind;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The type catalog of one source database: resolves a type OID to a {@link PgType}.
 *
 * <p>Built-in types (OIDs fixed by PostgreSQL itself: scalars, ranges, multiranges and their array
 * types) come from a static table and never cost a query. Every other OID (enums, domains,
 * composites, user-defined ranges, arrays of those, system catalog row types, extension types) is
 * looked up on first use in {@code pg_type} / {@code pg_attribute} through a connection obtained from
 * the {@link ConnectionSource}, together with the types it refers to, and cached.
 *
 * <p>Thread-safe: lookups may run concurrently; two threads missing the same OID at the same time may
 * both query the catalog, and one result wins. Call {@link #invalidate(int)} or {@link #invalidateAll()}
 * when the schema changes (for example when a pgoutput {@code Relation} message announces a changed
 * table, or a composite type is altered); built-in entries are never invalidated.
 */
public final class PgTypes {

    /** Opens a connection to the source database; {@link PgTypes} closes it after each lookup. */
    @FunctionalInterface
    public interface ConnectionSource {
        Connection open() throws SQLException;
    }

    /** OIDs below this are assigned by PostgreSQL's own catalog data and never change. */
    static final int FIRST_GENBKI_OBJECT_ID = 10000;
    /** OIDs from here on belong to user-defined objects (including extensions). */
    static final int FIRST_NORMAL_OBJECT_ID = 16384;

    private static final PgType[] BUILTIN = new PgType[FIRST_GENBKI_OBJECT_ID];

    private final ConnectionSource connections;
    private final ConcurrentHashMap<Integer, PgType> cache = new ConcurrentHashMap<>();
    private final AtomicLong catalogQueries = new AtomicLong();
    /** Bumped by every invalidation, so that a lookup racing with one does not cache what it read before. */
    private final AtomicLong generation = new AtomicLong();

    /** A catalog for the database that {@code connections} opens connections to. */
    public PgTypes(ConnectionSource connections) {
        this.connections = Objects.requireNonNull(connections, "connections");
    }

    /** A catalog that knows only the built-in types and fails on any other OID. */
    public static PgTypes builtinsOnly() {
        return new PgTypes(() -> {
            throw new SQLException("this PgTypes has no connection to a source database");
        });
    }

    /** The built-in type with {@code oid}, or {@code null} if {@code oid} is not in the static table. */
    public static PgType builtin(int oid) {
        return oid >= 0 && oid < BUILTIN.length ? BUILTIN[oid] : null;
    }

    /** Every entry of the static table of built-in types, in OID order. */
    public static List<PgType> builtins() {
        List<PgType> all = new ArrayList<>();
        for (PgType t : BUILTIN) {
            if (t != null) all.add(t);
        }
        return List.copyOf(all);
    }

    /**
     * The type with {@code oid} (an unsigned 32-bit value carried in an {@code int}), looking it up in
     * the catalog on first use.
     *
     * @throws TypeLookupException if the type does not exist or the catalog cannot be queried
     */
    public PgType get(int oid) {
        if (oid >= 0 && oid < BUILTIN.length) {
            PgType t = BUILTIN[oid];
            if (t != null) return t;
        }
        PgType t = cache.get(oid);
        return t != null ? t : load(oid);
    }

    /** Forgets what was looked up about {@code oid}; the next {@link #get(int)} queries the catalog again. */
    public void invalidate(int oid) {
        generation.incrementAndGet();
        cache.remove(oid);
    }

    /** Forgets every type looked up so far. */
    public void invalidateAll() {
        generation.incrementAndGet();
        cache.clear();
    }

    /** How many catalog lookups (connections opened) this instance has made; for tests and metrics. */
    public long catalogQueries() {
        return catalogQueries.get();
    }

    /** Caches {@code type} as if it had been looked up (for tests). */
    void put(PgType type) {
        cache.put(type.oid(), type);
    }

    /** Reads {@code oid} from the catalog, bypassing the static table and the cache (for tests). */
    PgType readFromCatalog(int oid) {
        try (Connection c = connections.open();
             Loader loader = new Loader(c)) {
            return loader.query(oid);
        } catch (SQLException e) {
            throw new TypeLookupException("Could not look up type OID " + Integer.toUnsignedString(oid)
                    + ": " + e.getMessage(), e);
        }
    }

    private PgType load(int oid) {
        catalogQueries.incrementAndGet();
        try (Connection c = connections.open();
             Loader loader = new Loader(c)) {
            return loader.load(oid);
        } catch (SQLException e) {
            throw new TypeLookupException("Could not look up type OID " + Integer.toUnsignedString(oid)
                    + ": " + e.getMessage(), e);
        }
    }

    /** Looks up one type and, with the same connection, the types it refers to that are not known yet. */
    private final class Loader implements AutoCloseable {
        private final PreparedStatement typeQuery;
        private final PreparedStatement attributeQuery;
        private final long startGeneration = generation.get();

        Loader(Connection c) throws SQLException {
            boolean hasSubscript = c.getMetaData().getDatabaseMajorVersion() >= 14;
            // A "true array" is what get_element_type() reports an element for: since PostgreSQL 14
            // typelem plus the standard array subscript handler, before that typelem on a varlena.
            String trueArrayElement = hasSubscript
                    ? "CASE WHEN t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc"
                      + " THEN t.typelem ELSE 0 END"
                    : "CASE WHEN t.typlen = -1 THEN t.typelem ELSE 0 END";
            typeQuery = c.prepareStatement(
                    "SELECT t.typname, t.typtype, t.typbasetype::int8, t.typrelid::int8, e.elem::int8,"
                    + " COALESCE(et.typdelim, t.typdelim) AS delim,"
                    + " (t.oid >= " + FIRST_NORMAL_OBJECT_ID + " AND EXISTS (SELECT 1 FROM pg_catalog.pg_cast k"
                    + "   WHERE k.castsource = t.oid AND k.casttarget = 'pg_catalog.json'::pg_catalog.regtype"
                    + "   AND k.castmethod = 'f')) AS cast_to_json"
                    + " FROM pg_catalog.pg_type t"
                    + " CROSS JOIN LATERAL (SELECT " + trueArrayElement + " AS elem) e"
                    + " LEFT JOIN pg_catalog.pg_type et ON et.oid = e.elem"
                    + " WHERE t.oid = ?::int8::oid");
            attributeQuery = c.prepareStatement(
                    "SELECT a.attname, a.atttypid::int8 FROM pg_catalog.pg_attribute a"
                    + " WHERE a.attrelid = ?::int8::oid AND a.attnum > 0 AND NOT a.attisdropped"
                    + " ORDER BY a.attnum");
        }

        PgType load(int oid) throws SQLException {
            PgType t = query(oid);
            if (generation.get() != startGeneration) {
                return t; // invalidated meanwhile: what we read may predate the change, so do not cache it
            }
            PgType raced = cache.putIfAbsent(oid, t);
            if (raced != null) {
                t = raced;
            } else if (generation.get() != startGeneration) {
                cache.remove(oid, t); // an invalidation slipped in between the check and the put
            }
            // Resolve what the type refers to now, while the connection is open.
            if (t.elementOid() != 0) ensure(t.elementOid());
            if (t.baseOid() != 0) ensure(t.baseOid());
            for (Attribute a : t.attributes()) ensure(a.typeOid());
            return t;
        }

        private void ensure(int oid) throws SQLException {
            if (builtin(oid) == null && !cache.containsKey(oid)) load(oid);
        }

        PgType query(int oid) throws SQLException {
            String name;
            char typtype;
            int baseOid;
            long relid;
            int elementOid;
            char delimiter;
            boolean castToJson;
            typeQuery.setLong(1, Integer.toUnsignedLong(oid));
            try (ResultSet rs = typeQuery.executeQuery()) {
                if (!rs.next()) {
                    throw new TypeLookupException("Type OID " + Integer.toUnsignedString(oid)
                            + " does not exist in the source database");
                }
                name = rs.getString(1);
                typtype = rs.getString(2).charAt(0);
                baseOid = (int) rs.getLong(3);
                relid = rs.getLong(4);
                elementOid = (int) rs.getLong(5);
                String delim = rs.getString(6);
                delimiter = delim == null || delim.isEmpty() ? ',' : delim.charAt(0);
                castToJson = rs.getBoolean(7);
            }
            Kind kind = switch (typtype) {
                case 'b' -> elementOid != 0 ? Kind.ARRAY : Kind.BASE;
                case 'c' -> Kind.COMPOSITE;
                case 'd' -> Kind.DOMAIN;
                case 'e' -> Kind.ENUM;
                case 'r' -> Kind.RANGE;
                case 'm' -> Kind.MULTIRANGE;
                case 'p' -> elementOid != 0 ? Kind.ARRAY : Kind.PSEUDO;
                default -> throw new TypeLookupException("Type " + name + " (OID " + Integer.toUnsignedString(oid)
                        + ") has unknown typtype '" + typtype + "'");
            };
            List<Attribute> attributes = List.of();
            if (kind == Kind.COMPOSITE) {
                attributes = new ArrayList<>();
                attributeQuery.setLong(1, relid);
                try (ResultSet rs = attributeQuery.executeQuery()) {
                    while (rs.next()) attributes.add(new Attribute(rs.getString(1), (int) rs.getLong(2)));
                }
            }
            return new PgType(oid, name, kind, kind == Kind.ARRAY ? elementOid : 0,
                    kind == Kind.DOMAIN ? baseOid : 0, delimiter, attributes, castToJson);
        }

        @Override
        public void close() throws SQLException {
            try {
                typeQuery.close();
            } finally {
                attributeQuery.close();
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Built-in types. OIDs below 10000 are fixed in PostgreSQL's catalog data (pg_type.dat) and are
    // never reassigned; the test suite checks this table against a live server's pg_type.

    private static void scalar(int oid, String name, int arrayOid) {
        scalar(oid, name, Kind.BASE, arrayOid, ',');
    }

    private static void scalar(int oid, String name, Kind kind, int arrayOid, char delimiter) {
        register(PgType.scalar(oid, name, kind, delimiter));
        if (arrayOid != 0) register(PgType.array(arrayOid, "_" + name, oid, delimiter));
    }

    private static void register(PgType t) {
        if (BUILTIN[t.oid()] != null) throw new IllegalStateException("duplicate built-in type OID " + t.oid());
        BUILTIN[t.oid()] = t;
    }

    static {
        scalar(16, "bool", 1000);
        scalar(17, "bytea", 1001);
        scalar(18, "char", 1002);
        scalar(19, "name", 1003);
        scalar(20, "int8", 1016);
        scalar(21, "int2", 1005);
        scalar(23, "int4", 1007);
        scalar(24, "regproc", 1008);
        scalar(25, "text", 1009);
        scalar(26, "oid", 1028);
        scalar(27, "tid", 1010);
        scalar(28, "xid", 1011);
        scalar(29, "cid", 1012);
        scalar(114, "json", 199);
        scalar(142, "xml", 143);
        scalar(600, "point", 1017);
        scalar(601, "lseg", 1018);
        scalar(602, "path", 1019);
        scalar(603, "box", Kind.BASE, 1020, ';');
        scalar(604, "polygon", 1027);
        scalar(628, "line", 629);
        scalar(650, "cidr", 651);
        scalar(700, "float4", 1021);
        scalar(701, "float8", 1022);
        scalar(718, "circle", 719);
        scalar(774, "macaddr8", 775);
        scalar(790, "money", 791);
        scalar(829, "macaddr", 1040);
        scalar(869, "inet", 1041);
        scalar(1033, "aclitem", 1034);
        scalar(1042, "bpchar", 1014);
        scalar(1043, "varchar", 1015);
        scalar(1082, "date", 1182);
        scalar(1083, "time", 1183);
        scalar(1114, "timestamp", 1115);
        scalar(1184, "timestamptz", 1185);
        scalar(1186, "interval", 1187);
        scalar(1266, "timetz", 1270);
        scalar(1560, "bit", 1561);
        scalar(1562, "varbit", 1563);
        scalar(1700, "numeric", 1231);
        scalar(1790, "refcursor", 2201);
        scalar(2202, "regprocedure", 2207);
        scalar(2203, "regoper", 2208);
        scalar(2204, "regoperator", 2209);
        scalar(2205, "regclass", 2210);
        scalar(2206, "regtype", 2211);
        scalar(2950, "uuid", 2951);
        scalar(2970, "txid_snapshot", 2949);
        scalar(3220, "pg_lsn", 3221);
        scalar(3614, "tsvector", 3643);
        scalar(3615, "tsquery", 3645);
        scalar(3642, "gtsvector", 3644);
        scalar(3734, "regconfig", 3735);
        scalar(3769, "regdictionary", 3770);
        scalar(3802, "jsonb", 3807);
        scalar(4072, "jsonpath", 4073);
        scalar(4089, "regnamespace", 4090);
        scalar(4096, "regrole", 4097);
        scalar(4191, "regcollation", 4192);
        scalar(5038, "pg_snapshot", 5039);
        scalar(5069, "xid8", 271);

        scalar(3904, "int4range", Kind.RANGE, 3905, ',');
        scalar(3906, "numrange", Kind.RANGE, 3907, ',');
        scalar(3908, "tsrange", Kind.RANGE, 3909, ',');
        scalar(3910, "tstzrange", Kind.RANGE, 3911, ',');
        scalar(3912, "daterange", Kind.RANGE, 3913, ',');
        scalar(3926, "int8range", Kind.RANGE, 3927, ',');

        scalar(4451, "int4multirange", Kind.MULTIRANGE, 6150, ',');
        scalar(4532, "nummultirange", Kind.MULTIRANGE, 6151, ',');
        scalar(4533, "tsmultirange", Kind.MULTIRANGE, 6152, ',');
        scalar(4534, "tstzmultirange", Kind.MULTIRANGE, 6153, ',');
        scalar(4535, "datemultirange", Kind.MULTIRANGE, 6155, ',');
        scalar(4536, "int8multirange", Kind.MULTIRANGE, 6157, ',');

        // int2vector and oidvector are true arrays internally (to_jsonb renders them as JSON arrays)
        // but print as space-separated lists without braces.
        register(PgType.array(22, "int2vector", 21, ','));
        register(PgType.array(1006, "_int2vector", 22, ','));
        register(PgType.array(30, "oidvector", 26, ','));
        register(PgType.array(1013, "_oidvector", 30, ','));
    }
}
