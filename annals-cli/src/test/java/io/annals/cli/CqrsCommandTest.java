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
        assertThat(d.err()).as("plain progress, not a terminal").contains("dump author: 300 of 300 rows (100%), ");

        Cli diff = Cli.run("cqrs", "diff", "--source", src, "--entities", entities.toString(), "--cqrs-id", "author", "--replica", dst);
        assertThat(diff.exit()).as(diff.both()).isEqualTo(1);
        assertThat(diff.out()).contains("missing on the replica: 300");
        assertThat(diff.err()).contains("diff author: 300 of 300 rows (100%), "); // the master's 300, none on the replica

        Cli load = Cli.run("cqrs", "load", "--replica", dst, "--tables", tables.toString(), "-i", dump.toString());
        assertThat(load.exit()).as(load.both()).isZero();
        assertThat(load.out()).contains("300 applied, 0 older than the replica's, 0 failed");
        assertThat(load.err()).contains("load author.jsonl: 300 of 300 lines (100%), ");

        diff = Cli.run("cqrs", "diff", "--source", src, "--entities", entities.toString(), "--cqrs-id", "author", "--replica", dst);
        assertThat(diff.exit()).as(diff.both()).isZero();
        assertThat(diff.err()).contains("diff author: 600 of 600 rows (100%), ");

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
    void syncShowsItsProgress(@TempDir Path dir) throws Exception {
        Services.requireRabbitMq();
        // A cqrs_id of this test's own: the exchange is shared with every build on the machine.
        String cqrsId = "author_" + UUID.randomUUID().toString().substring(0, 8);
        String src = TestPostgres.newDatabase("cqrs_cli_sync");
        TestPostgres.execute(src, "CREATE TABLE author (id int PRIMARY KEY, name text NOT NULL)",
                "INSERT INTO author SELECT g, 'a' || g FROM generate_series(1, 2500) g");
        ChangeLog.at(src).migrate();
        Path entities = Files.writeString(dir.resolve("master.json"), "{\"entities\": [{\"cqrs_id\": \"" + cqrsId + "\", \"table\": \"author\"}]}");
        Cli sync = Cli.run("cqrs", "sync", "--source", src, "--entities", entities.toString(), "--cqrs-id", cqrsId, "--filter", "{\"name\": \"a7\"}");
        assertThat(sync.exit()).as(sync.both()).isZero();
        assertThat(sync.out()).contains("1 row(s) of " + cqrsId + " sent");
        assertThat(sync.err()).contains("sync " + cqrsId + ": 1 of 1 rows (100%), ");
        sync = Cli.run("cqrs", "sync", "--source", src, "--entities", entities.toString(), "--cqrs-id", cqrsId);
        assertThat(sync.exit()).as(sync.both()).isZero();
        assertThat(sync.err()).contains("sync " + cqrsId + ": 2,500 of 2,500 rows (100%), ");
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
