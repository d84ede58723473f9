package io.annals.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.annals.history.AuditTrail;
import io.annals.history.ChangeQuery;
import io.annals.history.revert.ConflictPolicy;
import io.annals.history.revert.Revert;
import io.annals.history.revert.RevertPlan;
import io.annals.history.timetravel.Instants;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code annals revert}: compensating writes that undo a transaction, a context's changes, or a table since a cut. */
@Command(name = "revert", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Undo changes with compensating writes on the captured database, in one transaction: a reverted"
                + " INSERT becomes a DELETE, a DELETE an INSERT of the old row, an UPDATE an UPDATE of the changed"
                + " columns back to their old values.",
                "Say what to undo with one of: --transaction <xid>; --context key=value (narrowed by --since, --until,"
                        + " --table); or --table <t> --to <instant|position> (roll the table back).",
                "A conflict is a row changed again, after a reverted change, by a change not being reverted;"
                        + " --on-conflict decides: fail (write nothing), skip (leave those rows) or force (overwrite).",
                "A change whose undo needs a value the change log did not keep (a masked or omitted column, an old"
                        + " value a key-only before image lacks, or an UPDATE that may have changed a masked or omitted"
                        + " column under REPLICA IDENTITY DEFAULT) cannot be reverted: fail refuses, skip leaves that"
                        + " row alone, and even force never writes a placeholder or a default in place of the value.",
                "Each statement only touches a row exactly as the reverted change left it (a re-insert only where no"
                        + " row holds the key); a row found otherwise is a conflict, never counted as done. All"
                        + " statements apply or none; a skipped row is left alone whole.",
                "--dry-run prints a script that is safe to run by hand in any session: it stops, writing nothing,"
                        + " if a row is no longer as the plan expects.",
                "The revert is recorded with context {\"annals.revert_of\": ...}, so it shows in the history and"
                        + " can itself be reverted by its transaction id.",
                "Exit code 2 when refused (conflicts, nothing matching); with --dry-run, 2 when the plan would be refused."},
        footer = {"", "Examples:",
                "  annals revert --source $DB --transaction 812 --dry-run  # print, write nothing",
                "  annals revert --source $DB --transaction 812",
                "  annals revert --source $DB --context request_id=r-42",
                "  annals revert --source $DB --context user_id=42 --on-conflict skip \\",
                "      --since '2026-11-24 09:00' --until '2026-11-24 10:00'",
                "  annals revert --source $DB --table orders --to '2026-11-24 09:00'",
                "  annals revert --source $DB --transaction 815  # undo a revert: its transaction"})
final class RevertCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ChangeLogOptions db;

    @Option(names = "--transaction", paramLabel = "<xid>", description = "Undo every change of this source transaction.")
    Long transaction;

    @Option(names = "--context", paramLabel = "<key=value>", description = "Undo every change whose context holds this entry (repeat: all must hold).")
    List<String> contexts = List.of();

    @Option(names = "--since", paramLabel = "<instant>", description = "With --transaction or --context: only changes committed at or after this instant.")
    String since;

    @Option(names = "--until", paramLabel = "<instant>", description = "With --transaction or --context: only changes committed before this instant.")
    String until;

    @Option(names = "--table", paramLabel = "<schema.table>", description = "Only changes of this table (repeatable); with --to, the table to roll back.")
    List<String> tables = List.of();

    @Option(names = "--to", paramLabel = "<instant|position>", description = "With one --table: undo every change of it after this cut.")
    String to;

    @Option(names = "--on-conflict", paramLabel = "fail|skip|force", defaultValue = "fail", description = "What to do with conflicts. Default: ${DEFAULT-VALUE}")
    String onConflict;

    @Option(names = "--dry-run", description = "Print the plan (every statement and conflict) and write nothing.")
    boolean dryRun;

    @Option(names = "--max-changes", paramLabel = "<n>", description = "Refuse to plan more than this many changes. Default: " + Revert.DEFAULT_MAX_CHANGES)
    Integer maxChanges;

    @Override
    public Integer call() {
        ConflictPolicy policy = Values.choice(ConflictPolicy.class, onConflict, "--on-conflict");
        Map<String, Object> context = contexts.isEmpty() ? null : Values.pairs(contexts, "--context", true);
        Instant sinceInstant = since == null ? null : Instants.parse(since);
        Instant untilInstant = until == null ? null : Instants.parse(until);
        Cut cut = to == null ? null : Cut.parse(to, "--to");
        if (cut != null) {
            if (tables.size() != 1 || transaction != null || context != null || sinceInstant != null || untilInstant != null) {
                throw new IllegalArgumentException("--to rolls back one table: give it with exactly one --table and"
                        + " without --transaction, --context, --since or --until, e.g. --table orders --to '2026-11-24 09:00'");
            }
        } else if (transaction == null && context == null) {
            throw new IllegalArgumentException("Say what to revert: --transaction <xid>, --context key=value (optionally"
                    + " with --since, --until, --table), or --table <t> --to <instant|position>");
        }
        if (maxChanges != null && maxChanges < 1) {
            throw new IllegalArgumentException("--max-changes " + maxChanges + " must be at least 1");
        }

        try (ChangeLogOptions.Session session = db.open()) {
            AuditTrail trail = session.trail();
            Revert revert;
            if (cut != null) {
                revert = switch (cut) {
                    case Cut.AtInstant i -> trail.revertTable(tables.get(0), i.instant());
                    case Cut.AtPosition p -> trail.revertTable(tables.get(0), p.position());
                };
            } else {
                ChangeQuery q = trail.changes();
                if (transaction != null) q = q.transaction(transaction);
                if (context != null) q = q.contextContains(context);
                if (sinceInstant != null && untilInstant != null) q = q.between(sinceInstant, untilInstant);
                else if (sinceInstant != null) q = q.since(sinceInstant);
                else if (untilInstant != null) q = q.until(untilInstant);
                if (!tables.isEmpty()) q = q.tables(tables);
                revert = trail.revert(q);
            }
            revert = revert.onConflict(policy);
            if (maxChanges != null) revert = revert.maxChanges(maxChanges);
            if (session.writeTo() != null) revert = revert.writingTo(session.writeTo());
            RevertPlan plan = revert.plan();
            return dryRun ? dryRun(plan) : apply(plan);
        }
    }

    private int dryRun(RevertPlan plan) {
        PrintWriter out = spec.commandLine().getOut();
        out.print(plan.sql());
        out.flush();
        if (plan.blocked()) {
            spec.commandLine().getErr().println("annals: this revert would be refused because of the conflicts listed"
                    + " above (policy " + name(plan.policy()) + "); use --on-conflict skip to leave those rows alone"
                    + (plan.policy() == ConflictPolicy.FORCE ? "" : ", or force to overwrite them"));
            return 2;
        }
        return 0;
    }

    private int apply(RevertPlan plan) {
        RevertPlan.Outcome outcome = plan.apply();
        PrintWriter out = spec.commandLine().getOut();
        out.println("Reverted " + json(plan.revertOf()) + ": " + plan.changes() + " change(s) matched, "
                + outcome.applied() + " statement(s) applied, " + outcome.skipped().size() + " skipped.");
        out.println("Revert transaction " + outcome.transactionId() + ", revert id " + outcome.revertId() + ".");
        for (RevertPlan.Conflict c : outcome.skipped()) out.println("  skipped " + c.describe());
        if (plan.policy() == ConflictPolicy.FORCE) {
            for (RevertPlan.Conflict c : plan.conflicts()) out.println("  overwritten " + c.describe());
        }
        out.println("To undo this revert: " + Output.shellWord(System.getProperty("annals.command", "annals"))
                + " revert" + db.asArguments() + " --transaction " + outcome.transactionId());
        out.flush();
        return 0;
    }

    private static String name(ConflictPolicy policy) {
        return policy.name().toLowerCase(java.util.Locale.ROOT);
    }

    private static String json(Object value) {
        try {
            return Output.JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("Cannot write JSON: " + e.getOriginalMessage(), e);
        }
    }
}
