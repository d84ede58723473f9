package io.annals.capture.assembly;

import io.annals.capture.CaptureException;
import io.annals.capture.ColumnPolicy;
import io.annals.capture.pgoutput.PgOutputMessage;
import io.annals.capture.value.ValueConverter;

import java.util.List;

/**
 * A table as the stream last described it, with what capture does to each of its columns.
 *
 * @param keyColumns indexes of the columns that make up {@code primary_key} (the primary key, or
 *                   the replica identity index); empty for a table that has neither
 */
public record RelationInfo(
        int id,
        String schema,
        String table,
        boolean captured,
        char replicaIdentity,
        String[] names,
        String[] quotedNames,
        int[] typeOids,
        ColumnPolicy.Treatment[] treatments,
        int[] keyColumns) {

    public static RelationInfo of(PgOutputMessage.Relation r, boolean captured, ColumnPolicy policy, List<String> primaryKey) {
        int n = r.columns().size();
        String[] names = new String[n];
        String[] quoted = new String[n];
        int[] types = new int[n];
        ColumnPolicy.Treatment[] treatments = new ColumnPolicy.Treatment[n];
        for (int i = 0; i < n; i++) {
            PgOutputMessage.Column c = r.columns().get(i);
            names[i] = c.name();
            StringBuilder q = new StringBuilder(c.name().length() + 2);
            ValueConverter.appendJsonString(q, c.name());
            quoted[i] = q.toString();
            types[i] = c.typeOid();
            treatments[i] = policy.treatment(r.schema(), r.table(), c.name());
        }
        int[] keys;
        if (!primaryKey.isEmpty()) {
            keys = primaryKey.stream().mapToInt(k -> indexOf(names, k)).filter(i -> i >= 0).toArray();
        } else if (r.replicaIdentity() == 'i') {
            keys = java.util.stream.IntStream.range(0, n).filter(i -> r.columns().get(i).key()).toArray();
        } else {
            keys = new int[0];
        }
        for (int k : keys) {
            if (treatments[k] != ColumnPolicy.Treatment.STORE) {
                throw new CaptureException("Column " + r.schema() + "." + r.table() + "." + names[k]
                        + " is part of the primary key, so it identifies rows in the change log and cannot be "
                        + (treatments[k] == ColumnPolicy.Treatment.OMIT ? "omitted" : "masked") + "; narrow the column pattern.");
            }
        }
        return new RelationInfo(r.relationId(), r.schema(), r.table(), captured, r.replicaIdentity(),
                names, quoted, types, treatments, keys);
    }

    private static int indexOf(String[] names, String name) {
        for (int i = 0; i < names.length; i++) if (names[i].equals(name)) return i;
        return -1;
    }

    public int columnCount() {
        return names.length;
    }
}
