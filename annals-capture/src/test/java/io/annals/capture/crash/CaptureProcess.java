package io.annals.capture.crash;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Starts {@link CrashingCapture} in a child JVM (same JDK, same class path), its output going to a file
 * under {@code target/crash-tests/} for diagnosis.
 */
final class CaptureProcess {

    /** Options for the short-lived children of the crash suite: start fast, use little CPU. */
    static final List<String> QUICK_JVM = List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");

    private final String name;
    private final Process process;
    private final Path log;
    private final long startNanos = System.nanoTime();

    private CaptureProcess(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    /** What a finished child did. */
    record Exit(String name, int code, Duration elapsed, Path log) {
        /** The last lines of the child's output, for assertion messages. */
        String tail() {
            return CaptureProcess.tail(log, 60);
        }

        String describe() {
            return name + " exited " + code + " after " + elapsed.toMillis() + " ms (log " + log.toAbsolutePath() + "):\n" + tail();
        }
    }

    private static String classPath;

    /** Where the children's output goes: one folder per test JVM, so that concurrent builds do not mix logs. */
    static Path logDir() {
        Path dir = Path.of("target", "crash-tests", String.valueOf(ProcessHandle.current().pid()));
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    /** Starts the child; {@code mode} is {@code catch-up}, {@code run} or {@code STAGE:N}. */
    static CaptureProcess start(String name, List<String> jvmOptions, String url, String slot, int batchSize, String mode,
                                Duration catchUpTimeout) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(childClassPath());
        cmd.add(CrashingCapture.class.getName());
        cmd.add(url);
        cmd.add(slot);
        cmd.add(String.valueOf(batchSize));
        cmd.add(mode);
        cmd.add(String.valueOf(catchUpTimeout.toSeconds()));
        Path log = logDir().resolve(name + ".log");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            return new CaptureProcess(name, p, log);
        } catch (IOException e) {
            throw new UncheckedIOException("Could not start " + cmd.get(0), e);
        }
    }

    /** Starts the child and waits for it; kills it and fails when it overruns {@code timeout}. */
    static Exit run(String name, List<String> jvmOptions, String url, String slot, int batchSize, String mode,
                    Duration timeout) {
        return start(name, jvmOptions, url, slot, batchSize, mode, timeout).await(timeout.plusSeconds(30));
    }

    Process process() {
        return process;
    }

    /** Waits for the child to exit; on timeout kills it (SIGKILL) and throws. */
    Exit await(Duration timeout) {
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                process.waitFor(30, TimeUnit.SECONDS);
                throw new AssertionError(name + " did not finish within " + timeout + "; killed it. Log "
                        + log.toAbsolutePath() + ":\n" + tail(log, 60));
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new AssertionError("Interrupted while waiting for " + name, e);
        }
        return new Exit(name, process.exitValue(), Duration.ofNanos(System.nanoTime() - startNanos), log);
    }

    /**
     * Waits until the child's output contains {@code text}; returns the milliseconds since launch.
     * Fails when the child exits or the timeout passes first.
     */
    long awaitOutput(String text, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            try {
                if (Files.readString(log, StandardCharsets.UTF_8).contains(text)) {
                    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
                }
            } catch (IOException e) {
                // Not written yet.
            }
            if (!process.isAlive()) {
                throw new AssertionError(name + " exited before printing '" + text + "': " + await(Duration.ofSeconds(5)).describe());
            }
            Thread.sleep(20);
        }
        throw new AssertionError(name + " did not print '" + text + "' within " + timeout + ":\n" + tail(log, 60));
    }

    /** SIGKILL, as {@code kill -9} does, and waits for the process to be gone. */
    Exit kill() {
        process.destroyForcibly();
        return await(Duration.ofSeconds(30));
    }

    /**
     * This JVM's class path, with the project's own class folders and jars copied aside once. Other builds of
     * the same checkout recompile {@code target/classes} and {@code target/test-classes} while these tests
     * run; a child started in that moment would not find its main class.
     */
    static synchronized String childClassPath() {
        if (classPath != null) return classPath;
        for (int attempt = 1; ; attempt++) {
            Path copies = logDir().resolve("classpath-" + attempt).toAbsolutePath();
            try {
                String copied = copyClassPath(copies);
                String main = CrashingCapture.class.getName().replace('.', '/') + ".class";
                boolean complete = false;
                for (String entry : copied.split(File.pathSeparator)) {
                    if (entry.startsWith(copies.toString()) && Files.exists(Path.of(entry, main))) complete = true;
                }
                if (complete) {
                    classPath = copied;
                    return classPath;
                }
            } catch (IOException | UncheckedIOException e) {
                if (attempt >= 10) throw new IllegalStateException("Could not copy the class path", e);
            }
            if (attempt >= 10) throw new IllegalStateException("The class path lacks " + CrashingCapture.class.getName());
            try {
                Thread.sleep(3000); // another build is recompiling: let it finish
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    private static String copyClassPath(Path copies) throws IOException {
        List<String> out = new ArrayList<>();
        int i = 0;
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path p = Path.of(entry);
            String fileName = p.getFileName() == null ? "" : p.getFileName().toString();
            boolean ours = Files.isDirectory(p) || fileName.startsWith("annals-");
            if (!ours || !Files.exists(p)) {
                out.add(entry);
                continue;
            }
            Path copy = copies.resolve((i++) + "-" + fileName);
            copyRecursively(p, copy);
            out.add(copy.toString());
        }
        return String.join(File.pathSeparator, out);
    }

    private static void copyRecursively(Path from, Path to) throws IOException {
        if (!Files.isDirectory(from)) {
            Files.createDirectories(to.getParent());
            Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
            return;
        }
        try (var walk = Files.walk(from)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    /** Prints a line to the test output and appends it to {@code summary.txt} next to the children's logs. */
    static synchronized void note(String line) {
        System.out.println(line);
        try {
            Files.writeString(logDir().resolve("summary.txt"), line + System.lineSeparator(), StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        } catch (IOException e) {
            // The test output has it.
        }
    }

    static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException | RuntimeException e) {
            return "(could not read " + file + ": " + e + ")";
        }
    }
}
