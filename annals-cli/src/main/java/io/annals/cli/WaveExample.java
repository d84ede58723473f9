package io.annals.cli;

import io.annals.projections.Projection;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Wave accounting example of "Denormalize All the Things!", as {@code annals demo projections}
 * runs it and the CLI's tests use it: the canonical tables, the read tables, one projection mapped
 * in Java and three in SQL. The SQL ones are the file {@code wave-projections.json}, in the format
 * that {@code annals projections run --file} reads, so the demo shows that format too.
 *
 * <pre>{@code
 * TestPostgres.execute(url, WaveExample.SCHEMA);
 * List<Projection> all = WaveExample.projections();
 * }</pre>
 */
final class WaveExample {

    /** The file the SQL projections are declared in, as the demo writes it beside its database. */
    static final String FILE = "projections.json";

    /** Canonical tables (what the application writes), then the read tables (what projections write). */
    static final String[] SCHEMA = {
            "CREATE TABLE customer (id bigint PRIMARY KEY, name text NOT NULL)",
            "CREATE TABLE income (id bigint PRIMARY KEY, business_id bigint NOT NULL, amount numeric(12,2) NOT NULL,"
                    + " memo text, received_on date NOT NULL)",
            "CREATE TABLE expense (id bigint PRIMARY KEY, business_id bigint NOT NULL, amount numeric(12,2) NOT NULL,"
                    + " memo text, paid_on date NOT NULL)",
            "CREATE TABLE invoice (id bigint PRIMARY KEY, business_id bigint NOT NULL,"
                    + " customer_id bigint NOT NULL REFERENCES customer, issued_on date NOT NULL,"
                    + " total_amount numeric(12,2) NOT NULL DEFAULT 0)",
            "CREATE TABLE invoice_item (id bigint PRIMARY KEY, invoice_id bigint NOT NULL REFERENCES invoice,"
                    + " description text NOT NULL, amount numeric(12,2) NOT NULL)",
            // The whole old row, so that a deleted or moved item's change names the invoice it left.
            "ALTER TABLE invoice_item REPLICA IDENTITY FULL",
            "CREATE TABLE invoice_payment (id bigint PRIMARY KEY, invoice_id bigint NOT NULL REFERENCES invoice,"
                    + " business_id bigint NOT NULL, amount numeric(12,2) NOT NULL, paid_on date NOT NULL)",

            "CREATE TABLE financial_transaction (canonical_type text NOT NULL, canonical_pk jsonb NOT NULL,"
                    + " business_pk bigint NOT NULL, kind text NOT NULL, amount numeric(12,2) NOT NULL, memo text,"
                    + " happened_on date NOT NULL)",
            "CREATE INDEX ON financial_transaction (canonical_type, canonical_pk)",
            "CREATE TABLE journal_entry (canonical_type text NOT NULL, canonical_pk jsonb NOT NULL,"
                    + " business_pk bigint NOT NULL, entry_date date NOT NULL, description text NOT NULL,"
                    + " amount numeric(12,2) NOT NULL)",
            "CREATE INDEX ON journal_entry (canonical_type, canonical_pk)",
            "CREATE TABLE account_transaction (canonical_type text NOT NULL, canonical_pk jsonb NOT NULL,"
                    + " business_pk bigint NOT NULL, account text NOT NULL, debit numeric(12,2), credit numeric(12,2))",
            "CREATE INDEX ON account_transaction (canonical_type, canonical_pk)",
    };

    private WaveExample() {
    }

    /** Every projection of the example: the Java one, then those of {@link #json()}. */
    static List<Projection> projections() {
        List<Projection> all = new java.util.ArrayList<>();
        all.add(financialTransactions());
        all.addAll(ProjectionFile.parse(FILE, json()));
        return all;
    }

    /**
     * One table for incomes, expenses and invoice payments, so that one query filters and sorts
     * them all: mapped in Java, since each source has its own shape.
     */
    static Projection financialTransactions() {
        return Projection.named("financial_transaction")
                .into("public.financial_transaction", "business_pk")
                .from("public.income", c -> List.of(row("business_pk", c.after("business_id"), "kind", "income",
                        "amount", c.after("amount"), "memo", c.after("memo"), "happened_on", c.after("received_on"))))
                .from("public.expense", c -> List.of(row("business_pk", c.after("business_id"), "kind", "expense",
                        "amount", ((BigDecimal) c.after("amount")).negate(), "memo", c.after("memo"),
                        "happened_on", c.after("paid_on"))))
                .from("public.invoice_payment", c -> List.of(row("business_pk", c.after("business_id"), "kind", "payment",
                        "amount", c.after("amount"), "memo", "invoice " + c.after("invoice_id"),
                        "happened_on", c.after("paid_on"))))
                .writeBack("public.income", "memo", "memo")
                .build();
    }

    /** The SQL projections' file: invoice_total, journal_entry and account_transaction. */
    static String json() {
        try (InputStream in = WaveExample.class.getResourceAsStream("wave-projections.json")) {
            if (in == null) throw new IllegalStateException("wave-projections.json is missing from the CLI's jar");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A row of alternating column names and values; values may be null, unlike {@code Map.of}'s. */
    private static Map<String, Object> row(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }
}
