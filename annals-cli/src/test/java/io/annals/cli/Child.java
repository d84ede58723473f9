package io.annals.cli;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.awaitility.Awaitility.await;

/**
 * A child JVM running {@code annals} with {@code args}, its output (standard output and error
 * together) collected, for the commands that run until a signal stops them.
 *
 * <pre>{@code
 * try (Child child = Child.start("Capturing.", "run", "--source", url)) {
 *     child.process().destroy(); // SIGTERM
 * }
 * }</pre>
 */
record Child(Process process, StringBuilder buffer) implements AutoCloseable {

    /** Starts it and waits until its output contains {@code ready}. */
    static Child start(String ready, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), AnnalsCommand.class.getName()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        StringBuilder output = new StringBuilder();
        Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    synchronized (output) {
                        output.append(line).append('\n');
                    }
                }
            } catch (java.io.IOException ignored) {
                // process ended
            }
        });
        Child child = new Child(p, output);
        await().atMost(Duration.ofSeconds(60)).until(() -> child.output().contains(ready) || !p.isAlive());
        if (!child.output().contains(ready)) throw new AssertionError("annals " + String.join(" ", args) + " ended:\n" + child.output());
        return child;
    }

    String output() {
        synchronized (buffer) {
            return buffer.toString();
        }
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
