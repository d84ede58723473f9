package io.annals.cli;

import io.annals.changelog.Position;
import io.annals.history.HistoryException;
import io.annals.history.keyframes.Keyframe;
import io.annals.history.keyframes.Keyframes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code annals keyframes}: list, build and prune the keyframes that make a table as of any
 * instant fast (the background keyframer runs with {@code annals run --keyframes-every}).
 */
@Command(name = "keyframes", mixinStandardHelpOptions = true,
        description = {"Keyframes are copies of a table's live rows at a position of the change log, built from the"
                + " log alone. A table as of any instant is then read from the nearest keyframe at or before it plus"
                + " the changes after it, instead of from every change of the table. 'annals run --keyframes-every N'"
                + " writes them in the background; retention turns its baseline into one."},
        subcommands = {KeyframesCommand.ListKeyframes.class, KeyframesCommand.Build.class, KeyframesCommand.Prune.class},
        footer = {"", "Examples:",
                "  annals keyframes list",
                "  annals keyframes build --table public.orders    # at the latest position",
                "  annals keyframes build --table orders --at '2026-11-01 00:00'",
                "  annals keyframes prune --keep 2"})
final class KeyframesCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        throw new ParameterException(spec.commandLine(), "Missing command: list, build or prune");
    }

    abstract static class Base {
        @Spec
        CommandSpec spec;

        @Mixin
        ChangeLogOptions db;

        int failed(HistoryException e) {
            spec.commandLine().getErr().println("annals: " + e.getMessage());
            return 2;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the keyframes: table, position, rows, who wrote them.")
    static final class ListKeyframes extends Base implements Callable<Integer> {
        @Option(names = "--table", paramLabel = "<schema.table>", description = "Only this table's keyframes.")
        String table;

        @Override
        public Integer call() {
            try (ChangeLogOptions.Session session = db.open()) {
                List<Keyframe> all = session.trail().keyframes().list(table);
                PrintWriter out = spec.commandLine().getOut();
                if (all.isEmpty()) {
                    out.println("No keyframes" + (table == null ? "" : " of " + table) + " yet: build one with"
                            + " 'annals keyframes build --table <t>', or run 'annals run --keyframes-every <n>'.");
                    return 0;
                }
                TablePrinter t = new TablePrinter(List.of("table", "position", "committed", "rows", "origin", "written"),
                        new int[]{40, 26, 30, 14, 10, 30});
                for (Keyframe k : all) {
                    t.add(k.table(), k.position().toString(), k.committedAt().map(Object::toString).orElse(""),
                            String.format(Locale.ROOT, "%,d", k.rows()), k.origin().name().toLowerCase(Locale.ROOT),
                            k.createdAt().toString());
                }
                t.print(out);
                return 0;
            } catch (HistoryException e) {
                return failed(e);
            }
        }
    }

    @Command(name = "build", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Write a keyframe of each table now, from its previous keyframe plus the changes since it"
                    + " (from its whole log the first time). A table that has one at that position already keeps it.")
    static final class Build extends Base implements Callable<Integer> {
        @Option(names = "--table", required = true, paramLabel = "<schema.table>", description = "A table (repeatable).")
        List<String> tables;

        @Option(names = "--at", paramLabel = "<instant|position>",
                description = "Where: an instant (2026-11-01, '2026-11-01 10:15', ISO-8601) or a position. Default: the log's latest change.")
        String at;

        @Override
        public Integer call() {
            try (ChangeLogOptions.Session session = db.open()) {
                Keyframes keyframes = session.trail().keyframes();
                Position position = null;
                if (at != null) {
                    Cut cut = Cut.parse(at, "--at");
                    position = cut.asOf(session.trail()).position().orElseThrow(() -> new IllegalArgumentException(
                            "--at " + at + " is before the change log's first change: there is nothing to build a keyframe from"));
                }
                PrintWriter out = spec.commandLine().getOut();
                for (String table : tables) {
                    out.println("Building a keyframe of " + table + (position == null ? " at the latest position" : " at " + position) + "...");
                    out.flush();
                    long started = System.nanoTime();
                    Keyframe k = keyframes.build(table, position);
                    out.printf(Locale.ROOT, "Keyframe of %s at %s: %,d rows (%.1f s)%n", k.table(), k.position(), k.rows(),
                            (System.nanoTime() - started) / 1e9);
                    out.flush();
                }
                return 0;
            } catch (HistoryException e) {
                return failed(e);
            }
        }
    }

    @Command(name = "prune", mixinStandardHelpOptions = true, description = "Delete all but the newest keyframes of each table.")
    static final class Prune extends Base implements Callable<Integer> {
        @Option(names = "--keep", required = true, paramLabel = "<n>", description = "How many keyframes of each table to keep (0: none).")
        int keep;

        @Override
        public Integer call() {
            try (ChangeLogOptions.Session session = db.open()) {
                int deleted = session.trail().keyframes().prune(keep);
                spec.commandLine().getOut().println("Deleted " + deleted + " keyframe" + (deleted == 1 ? "" : "s")
                        + "; kept the newest " + keep + " of each table.");
                return 0;
            } catch (HistoryException e) {
                return failed(e);
            }
        }
    }
}
