package io.annals.benchmark;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Where the CPU time of a benchmark phase went, read from Linux's {@code /proc}: this JVM (and its
 * capture threads, by name), the PostgreSQL processes grouped by role (walsender, client backends,
 * checkpointer, ...), processes that ended during the phase (this JVM's child processes, and the
 * server's, as their parents' "children" counters), and the whole machine. On other systems it reports nothing.
 *
 * <p>Processes that exit during a phase take their CPU time with them, so take the closing
 * snapshot before closing connections.
 */
final class CpuSampler {

    /** Linux reports process times in clock ticks; USER_HZ is 100 on every mainstream kernel. */
    private static final double TICKS_PER_SECOND = 100.0;

    private final Path postmasterPidFile;

    CpuSampler(Path dataDirectory) {
        this.postmasterPidFile = dataDirectory.resolve("postmaster.pid");
    }

    /** CPU counters at one instant. Times in seconds. */
    record Snapshot(long nanos, double jvm, Map<Long, Double> pgByPid, Map<Long, String> roleByPid,
                    Map<String, Double> threads, double machineBusy, double machineIrq, double children, double pgExited) { }

    /** What happened between two snapshots. */
    record Usage(double seconds, double jvm, Map<String, Double> threads, Map<String, Double> postgres,
                 double machineBusyCores, double irq, int cores, double children) {

        /** The share of the machine that other processes used, 0 to 1. */
        double otherShare() {
            return machineBusyCores < 0 ? 0 : otherProcesses() / (seconds * cores);
        }

        /**
         * CPU seconds that neither this JVM nor this PostgreSQL used, nor interrupt handling (which
         * is mostly loopback networking caused by them): other work on the machine skewing the figures.
         * Kernel threads flushing to disk for PostgreSQL count here too, but they are small.
         */
        double otherProcesses() {
            return machineBusyCores < 0 ? 0 : Math.max(0, machineBusyCores * seconds - irq - jvm - children - postgresTotal());
        }

        double postgresTotal() {
            return postgres.values().stream().mapToDouble(Double::doubleValue).sum();
        }

        /** One line, for example "JVM 10.2 s (reader 4.1, writer 3.0) | PostgreSQL 12.0 s (walsender 6.0, ...)". */
        String describe() {
            StringBuilder sb = new StringBuilder();
            sb.append(String.format(Locale.ROOT, "JVM %.1f s", jvm));
            if (!threads.isEmpty()) {
                List<String> parts = new ArrayList<>();
                threads.entrySet().stream().sorted(Map.Entry.<String, Double>comparingByValue().reversed())
                        .filter(e -> e.getValue() >= 0.05)
                        .forEach(e -> parts.add(String.format(Locale.ROOT, "%s %.1f", e.getKey(), e.getValue())));
                double ended = jvm - threads.values().stream().mapToDouble(Double::doubleValue).sum();
                if (ended >= 0.05) parts.add(String.format(Locale.ROOT, "ended threads %.1f", ended));
                sb.append(" (").append(String.join(", ", parts)).append(')');
            }
            if (children >= 0.05) sb.append(String.format(Locale.ROOT, " | child processes %.1f s", children));
            if (!postgres.isEmpty()) {
                sb.append(String.format(Locale.ROOT, " | PostgreSQL %.1f s (", postgresTotal()));
                List<String> parts = new ArrayList<>();
                postgres.entrySet().stream().sorted(Map.Entry.<String, Double>comparingByValue().reversed())
                        .filter(e -> e.getValue() >= 0.05)
                        .forEach(e -> parts.add(String.format(Locale.ROOT, "%s %.1f", e.getKey(), e.getValue())));
                sb.append(String.join(", ", parts)).append(')');
            }
            if (machineBusyCores >= 0) {
                sb.append(String.format(Locale.ROOT, " | machine busy %.2f of %d cores over %.1f s, of which"
                        + " interrupts %.1f s, other processes %.1f s", machineBusyCores, cores, seconds, irq, otherProcesses()));
            }
            return sb.toString();
        }
    }

    /**
     * Takes a snapshot; {@code threadNames} maps a label to a thread-name prefix (for example
     * "reader" to "annals-reader") whose CPU time is reported separately; GC and JIT threads are
     * always reported apart, and the rest as "other". Threads that ended take their time with them.
     */
    Snapshot take(Map<String, String> threadNames) {
        long now = System.nanoTime();
        double jvm = processSeconds(Path.of("/proc/self/stat"));
        double children = childSeconds(Path.of("/proc/self/stat"));
        double pgExited = 0;
        Map<Long, Double> pg = new HashMap<>();
        Map<Long, String> roles = new HashMap<>();
        long postmaster = postmasterPid();
        if (postmaster > 0) {
            pg.put(postmaster, processSeconds(Path.of("/proc/" + postmaster + "/stat")));
            pgExited = childSeconds(Path.of("/proc/" + postmaster + "/stat"));
            roles.put(postmaster, "postmaster");
            try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
                for (Path p : (Iterable<Path>) procs::iterator) {
                    String name = p.getFileName().toString();
                    if (name.isEmpty() || !Character.isDigit(name.charAt(0))) continue;
                    String[] stat = statFields(p.resolve("stat"));
                    if (stat == null || Long.parseLong(stat[1]) != postmaster) continue;
                    long pid = Long.parseLong(name);
                    pg.put(pid, (Long.parseLong(stat[11]) + Long.parseLong(stat[12])) / TICKS_PER_SECOND);
                    roles.put(pid, role(p));
                }
            } catch (IOException | RuntimeException e) {
                // Not Linux, or a process vanished mid-listing: report what we have.
            }
        }
        Map<String, Double> threads = new LinkedHashMap<>();
        // Every JVM thread, including GC and JIT threads, which ThreadMXBean does not show. Linux
        // truncates thread names to 15 characters, which the prefixes allow for.
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                String comm;
                try {
                    comm = Files.readString(task.resolve("comm")).trim();
                } catch (IOException e) {
                    continue;
                }
                String label = "other";
                for (Map.Entry<String, String> e : threadNames.entrySet()) {
                    if (comm.startsWith(e.getValue())) {
                        label = e.getKey();
                        break;
                    }
                }
                if (label.equals("other")) {
                    if (comm.startsWith("GC Thread") || comm.startsWith("G1 ")) label = "gc";
                    else if (comm.startsWith("C1 Compiler") || comm.startsWith("C2 Compiler")) label = "jit";
                }
                threads.merge(label, processSeconds(task.resolve("stat")), Double::sum);
            }
        } catch (IOException | RuntimeException e) {
            // Not Linux.
        }
        double busy = -1;
        double irq = 0;
        try {
            // cpu  user nice system idle iowait irq softirq steal ...
            String first = Files.readAllLines(Path.of("/proc/stat")).get(0);
            String[] f = first.trim().split("\\s+");
            long sum = 0;
            for (int i = 1; i < Math.min(f.length, 9); i++) sum += Long.parseLong(f[i]);
            long idle = Long.parseLong(f[4]) + Long.parseLong(f[5]);
            busy = (sum - idle) / TICKS_PER_SECOND;
            irq = (Long.parseLong(f[6]) + Long.parseLong(f[7])) / TICKS_PER_SECOND;
        } catch (IOException | RuntimeException e) {
            // Not Linux.
        }
        return new Snapshot(now, jvm, pg, roles, threads, busy, irq, children, pgExited);
    }

    /** The usage between {@code a} and {@code b}. Threads that started after {@code a} count from zero. */
    static Usage between(Snapshot a, Snapshot b) {
        double seconds = (b.nanos() - a.nanos()) / 1e9;
        Map<String, Double> threads = new LinkedHashMap<>();
        b.threads().forEach((k, v) -> threads.put(k, v - a.threads().getOrDefault(k, 0.0)));
        Map<String, Double> postgres = new LinkedHashMap<>();
        b.pgByPid().forEach((pid, v) -> {
            double before = a.pgByPid().getOrDefault(pid, 0.0);
            postgres.merge(b.roleByPid().get(pid), v - before, Double::sum);
        });
        // A server process that exited during the phase (a walsender whose client left) took its
        // counters with it, but the postmaster reaped it, which added its whole life's time to the
        // postmaster's "children" counters: what it had used by the phase's start is not the phase's.
        double exited = b.pgExited() - a.pgExited();
        for (Map.Entry<Long, Double> e : a.pgByPid().entrySet()) {
            if (!b.pgByPid().containsKey(e.getKey())) exited -= e.getValue();
        }
        if (exited >= 0.01) postgres.merge("exited", exited, Double::sum);
        double busyCores = a.machineBusy() < 0 || b.machineBusy() < 0 ? -1 : (b.machineBusy() - a.machineBusy()) / seconds;
        return new Usage(seconds, b.jvm() - a.jvm(), threads, postgres, busyCores, b.machineIrq() - a.machineIrq(),
                Runtime.getRuntime().availableProcessors(), b.children() - a.children());
    }

    private long postmasterPid() {
        try {
            return Long.parseLong(Files.readAllLines(postmasterPidFile, StandardCharsets.UTF_8).get(0).trim());
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static double processSeconds(Path stat) {
        String[] f = statFields(stat);
        if (f == null) return 0;
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / TICKS_PER_SECOND;
    }

    /** CPU seconds of the process's children that it waited for (cutime + cstime): processes that ended. */
    private static double childSeconds(Path stat) {
        String[] f = statFields(stat);
        if (f == null) return 0;
        return (Long.parseLong(f[13]) + Long.parseLong(f[14])) / TICKS_PER_SECOND;
    }

    /** The fields of /proc/PID/stat after the command name: [0] is field 3 (state), [1] the ppid, [11] utime, [12] stime. */
    private static String[] statFields(Path stat) {
        try {
            String s = Files.readString(stat);
            int close = s.lastIndexOf(')');
            if (close < 0) return null;
            return s.substring(close + 2).trim().split(" ");
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** PostgreSQL sets its process title, for example "postgres: walsender postgres bench 127.0.0.1(4711) streaming". */
    private static String role(Path proc) {
        String title;
        try {
            title = new String(Files.readAllBytes(proc.resolve("cmdline")), StandardCharsets.UTF_8).replace('\0', ' ');
        } catch (IOException e) {
            return "other";
        }
        if (title.contains("walsender")) return "walsender";
        if (title.contains("checkpointer")) return "checkpointer";
        if (title.contains("walwriter")) return "walwriter";
        if (title.contains("background writer")) return "bgwriter";
        if (title.contains("autovacuum")) return "autovacuum";
        if (title.contains("logical replication")) return "logical-launcher";
        if (title.contains("io worker")) return "io-workers";
        if (title.contains("postgres: ")) return "backends";
        return "other";
    }
}
