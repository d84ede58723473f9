package io.annals.projections;

import io.annals.changelog.Sql;

/** A table named {@code schema.table} (or {@code table}, for schema public), as definitions name them. */
record TableRef(String schema, String name) {

    static TableRef parse(String text, String what) {
        if (text == null || text.isBlank()) {
            throw new ProjectionException(what + " needs a table name, e.g. public.invoice");
        }
        String t = text.strip();
        int dot = t.indexOf('.');
        TableRef ref = dot < 0 ? new TableRef("public", t) : new TableRef(t.substring(0, dot), t.substring(dot + 1));
        if (ref.schema.isBlank() || ref.name.isBlank() || ref.name.contains(".")) {
            throw new ProjectionException(what + ": '" + text + "' is not a table name; use schema.table, e.g. public.invoice");
        }
        return ref;
    }

    boolean is(String schema, String table) {
        return this.schema.equals(schema) && this.name.equals(table);
    }

    /** The quoted name for SQL. */
    String sql() {
        return Sql.qualified(schema, name);
    }

    @Override
    public String toString() {
        return schema + "." + name;
    }
}
