package io.annals.cli;

import io.annals.changelog.ChangeLog;
import io.annals.testkit.Services;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code annals cqrs}: the tools end to end, and bad input answered with exit 2 and what to fix. */
class CqrsCommandTest {

    @Test
    void dumpLoadDiffAndTheirErrors(@TempDir Path dir) throws Exception {
        String src = TestPostgres.newDatabase("cqrs_cli_src");
        TestPostgres.execute(src, "CREATE TABLE author (id int PRIMARY KEY, name text NOT NULL)",
                "INSERT INTO author SELECT g, 'a' || g FROM generate_series(1, 300) g");
        ChangeLog.at(src).migrate();
        String dst = TestPostgres.newDatabase("cqrs_cli_dst");
        TestPostgres.execute(dst, "CREATE TABLE author (id int PRIMARY KEY, name text NOT NULL, cqrs_revision int NOT NULL,"
                + " cqrs_updated timestamptz NOT NULL)");
        Path entities = Files.writeString(dir.resolve("master.json"), "{\"entities\": [{\"cqrs_id\": \"author\", \"table\": \"author\"}]}");
        Path tables = Files.writeString(dir.resolve("replica.json"), "{\"tables\": [{\"cqrs_id\": \"author\"}]}");
        Path dump = dir.resolve("author.jsonl");

        Cli d = Cli.run("cqrs", "dump", "--source", src, "--entities", entities.toString(), "--cqrs-id", "author", "-o", dump.toString());
        assertThat(d.exit()).as(d.both()).isZero();
        assertThat(Files.readAllLines(dump)).hasSize(300);

        Cli diff = Cli.run("cqrs", "diff", "--source", src, "--entities", entities.toString(), "--cqrs-id", "author", "--replica", dst);
        assertThat(diff.exit()).as(diff.both()).isEqualTo(1);
        assertThat(diff.out()).contains("missing on the replica: 300");

        Cli load = Cli.run("cqrs", "load", "--replica", dst, "--tables", tables.toString(), "-i", dump.toString());
        assertThat(load.exit()).as(load.both()).isZero();
        assertThat(load.out()).contains("300 applied, 0 older than the replica's, 0 failed");

        diff = Cli.run("cqrs", "diff", "--source", src, "--entities", entities.toString(), "--cqrs-id", "author", "--replica", dst);
        assertThat(diff.exit()).as(diff.both()).isZero();

        Cli unknown = Cli.run("cqrs", "dump", "--source", src, "--entities", entities.toString(), "--cqrs-id", "book", "-o",
                dir.resolve("x").toString());
        assertThat(unknown.exit()).isEqualTo(2);
        assertThat(unknown.err()).contains("annals: Unknown cqrs_id 'book'; this master replicates [author]");
        Cli badFilter = Cli.run("cqrs", "sync", "--source", src, "--entities", entities.toString(), "--cqrs-id", "author",
                "--filter", "{oops");
        assertThat(badFilter.exit()).isEqualTo(2);
        assertThat(badFilter.err()).contains("The filter is not JSON");
    }

    @Test
    void deadLettersOfAQueueThatDoesNotExistSayWhichQueue() {
        Services.requireRabbitMq();
        String queue = "nope_" + UUID.randomUUID().toString().substring(0, 8);
        Cli r = Cli.run("cqrs", "dead-letters", "list", "--queue", queue);
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("There is no queue dead_letter_" + queue);
    }
}
