package io.annals.capture.value;

import java.util.List;
import java.util.Objects;

/**
 * What Annals needs to know about one PostgreSQL data type to turn its text output into JSON.
 * Immutable; obtained from {@link PgTypes}.
 *
 * @param oid         the type's OID ({@code pg_type.oid})
 * @param name        the type's name ({@code pg_type.typname}, not schema-qualified)
 * @param kind        what sort of type it is
 * @param elementOid  for {@link Kind#ARRAY}: the element type's OID; otherwise 0
 * @param baseOid     for {@link Kind#DOMAIN}: the OID of the type the domain is declared over
 *                    (itself possibly a domain); otherwise 0
 * @param delimiter   for {@link Kind#ARRAY}: the character separating elements in the array's
 *                    text form (the element type's {@code typdelim}, {@code ;} for {@code box});
 *                    for other kinds the type's own {@code typdelim}
 * @param attributes  for {@link Kind#COMPOSITE}: the live (not dropped) attributes in
 *                    {@code attnum} order, which is the order of the record text form; otherwise empty
 * @param castToJson  whether a user-defined explicit cast to {@code json} exists for this type.
 *                    {@code to_jsonb} then uses the cast function instead of the text output
 *                    (for example {@code hstore}); {@link ValueConverter} cannot run that function
 *                    and falls back to a JSON string, so the result differs from {@code to_jsonb}.
 */
public record PgType(int oid, String name, Kind kind, int elementOid, int baseOid, char delimiter,
                     List<Attribute> attributes, boolean castToJson) {

    /** Roughly {@code pg_type.typtype}, with true array types split out of the base types. */
    public enum Kind {
        /** A scalar base type ({@code typtype = 'b'} that is not a true array). */
        BASE,
        /** An enum ({@code 'e'}). */
        ENUM,
        /** A domain ({@code 'd'}); see {@link PgType#baseOid()}. */
        DOMAIN,
        /** A composite or table row type ({@code 'c'}); see {@link PgType#attributes()}. */
        COMPOSITE,
        /** A range ({@code 'r'}). */
        RANGE,
        /** A multirange ({@code 'm'}). */
        MULTIRANGE,
        /**
         * A true array type (one that {@code get_element_type()} reports an element for), including
         * the space-separated {@code int2vector} and {@code oidvector}; see {@link PgType#elementOid()}.
         */
        ARRAY,
        /** A pseudo-type ({@code 'p'}), such as {@code record}. */
        PSEUDO
    }

    /** One live attribute of a composite type. */
    public record Attribute(String name, int typeOid) {
        public Attribute {
            Objects.requireNonNull(name, "name");
        }
    }

    public PgType {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(kind, "kind");
        attributes = List.copyOf(attributes);
    }

    /** A scalar type without element, base type or attributes. */
    static PgType scalar(int oid, String name, Kind kind, char delimiter) {
        return new PgType(oid, name, kind, 0, 0, delimiter, List.of(), false);
    }

    /** A true array type over {@code elementOid}, elements separated by {@code delimiter}. */
    static PgType array(int oid, String name, int elementOid, char delimiter) {
        return new PgType(oid, name, Kind.ARRAY, elementOid, 0, delimiter, List.of(), false);
    }
}
