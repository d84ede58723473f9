package io.annals.projections;

import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Wave accounting example from "Denormalize All the Things!": the canonical tables, the read
 * tables, and the projections that keep them true.
 */
final class Wave {

    private Wave() {
    }

    static final String[] SOURCES = {
            "CREATE TABLE customer (id bigint PRIMARY KEY, name text NOT NULL)",
            "CREATE TABLE income (id bigint PRIMARY KEY, business_id bigint NOT NULL, amount numeric(12,2) NOT NULL,"
                    + " memo text, received_on date NOT NULL)",
            "CREATE TABLE expense (id bigint PRIMARY KEY, business_id bigint NOT NULL, amount numeric(12,2) NOT NULL,"
                    + " memo text, paid_on date NOT NULL)",
            "CREATE TABLE invoice (id bigint PRIMARY KEY, business_id bigint NOT NULL, customer_id bigint NOT NULL,"
                    + " issued_on date NOT NULL, total_amount numeric(12,2) NOT NULL DEFAULT 0)",
            "CREATE TABLE invoice_item (id bigint PRIMARY KEY, invoice_id bigint NOT NULL, description text NOT NULL,"
                    + " amount numeric(12,2) NOT NULL)",
            "ALTER TABLE invoice_item REPLICA IDENTITY FULL",
    };

    static final String[] READ_TABLES = {
            "CREATE TABLE financial_transaction (canonical_type text NOT NULL, canonical_pk jsonb NOT NULL,"
                    + " business_pk bigint NOT NULL, kind text NOT NULL, amount numeric(12,2) NOT NULL, memo text, happened_on date NOT NULL)",
            "CREATE INDEX ON financial_transaction (canonical_type, canonical_pk)",
            "CREATE TABLE journal_entry (canonical_type text NOT NULL, canonical_pk jsonb NOT NULL,"
                    + " business_pk bigint NOT NULL, account text NOT NULL, debit numeric(12,2), credit numeric(12,2), customer text NOT NULL)",
            "CREATE INDEX ON journal_entry (canonical_type, canonical_pk)",
    };

    static Projection financialTransactions() {
        return Projection.named("financial_transaction")
                .into("public.financial_transaction", "business_pk")
                .from("public.income", c -> List.of(row("business_pk", c.after("business_id"), "kind", "income",
                        "amount", c.after("amount"), "memo", c.after("memo"), "happened_on", c.after("received_on"))))
                .from("public.expense", c -> List.of(row("business_pk", c.after("business_id"), "kind", "expense",
                        "amount", ((BigDecimal) c.after("amount")).negate(), "memo", c.after("memo"),
                        "happened_on", c.after("paid_on"))))
                .writeBack("public.income", "memo", "memo")
                .build();
    }

    static Projection invoiceTotal() {
        return Projection.named("invoice_total")
                .intoColumns("public.invoice", "total_amount")
                .fromQuery("public.invoice", "SELECT i.id AS canonical_pk, coalesce(sum(it.amount), 0) AS total_amount"
                        + " FROM invoice i LEFT JOIN invoice_item it ON it.invoice_id = i.id"
                        + " WHERE i.id = ANY(:ids::bigint[]) GROUP BY i.id")
                .dependsOnColumn("public.invoice_item", "invoice_id")
                .build();
    }

    /** Each invoice: a debit of receivables and a credit of sales, for its items' sum, named by its customer. */
    static Projection journal() {
        return Projection.named("journal_entry")
                .into("public.journal_entry")
                .fromQuery("public.invoice", "SELECT i.id AS canonical_pk, i.business_id AS business_pk, a.account,"
                        + " CASE WHEN a.account = 'receivable' THEN t.total END AS debit,"
                        + " CASE WHEN a.account = 'sales' THEN t.total END AS credit, c.name AS customer"
                        + " FROM invoice i JOIN customer c ON c.id = i.customer_id"
                        + " CROSS JOIN LATERAL (SELECT coalesce(sum(amount), 0) AS total FROM invoice_item WHERE invoice_id = i.id) t"
                        + " CROSS JOIN (VALUES ('receivable'), ('sales')) a(account)"
                        + " WHERE i.id = ANY(:ids::bigint[])")
                .dependsOnColumn("public.invoice_item", "invoice_id")
                .dependsOn("public.customer", "SELECT id FROM invoice WHERE customer_id = ANY(:ids::bigint[])")
                .build();
    }

    /** A row of alternating column names and values; values may be null, unlike {@code Map.of}'s. */
    static Map<String, Object> row(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }
}
