package io.annals.capture;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Which tables are captured, and which column values are left out or masked. */
class CaptureFiltersTest extends CaptureTestSupport {

    @Test
    void includeAndExcludeTablePatterns() {
        String url = newDatabase("cap_filter_tables");
        sql(url, "CREATE SCHEMA app", "CREATE SCHEMA other",
                "CREATE TABLE app.orders (id int PRIMARY KEY, v int)",
                "CREATE TABLE app.order_lines (id int PRIMARY KEY, v int)",
                "CREATE TABLE app.sessions (id int PRIMARY KEY, v int)",
                "CREATE TABLE other.orders (id int PRIMARY KEY, v int)",
                "CREATE TABLE public.misc (id int PRIMARY KEY, v int)",
                "INSERT INTO app.orders VALUES (1, 0)", "INSERT INTO app.sessions VALUES (1, 0)",
                "INSERT INTO other.orders VALUES (1, 0)");
        try (CaptureWorker worker = start(options(url).include(List.of("app.*", "misc")).exclude(List.of("app.sess*")))) {
            for (String t : List.of("app.orders", "app.order_lines", "app.sessions", "other.orders", "public.misc")) {
                sql(url, "INSERT INTO " + t + " VALUES (2, 0)", "UPDATE " + t + " SET v = 1", "DELETE FROM " + t + " WHERE id = 2");
            }
            worker.awaitCaughtUp(CATCH_UP);
            assertThat(query(url, "SELECT \"schema\" || '.' || \"table\", operation, count(*) FROM annals.changes"
                    + " GROUP BY 1, 2 ORDER BY 1, 2"))
                    .containsExactly(
                            List.of("app.order_lines", "CREATE", "1"), List.of("app.order_lines", "DELETE", "1"),
                            List.of("app.order_lines", "UPDATE", "1"),
                            List.of("app.orders", "CREATE", "1"), List.of("app.orders", "DELETE", "1"),
                            List.of("app.orders", "SNAPSHOT", "1"), List.of("app.orders", "UPDATE", "2"),
                            List.of("public.misc", "CREATE", "1"), List.of("public.misc", "DELETE", "1"),
                            List.of("public.misc", "UPDATE", "1"));
        }
    }

    /**
     * An include pattern is a glob, not a list of the tables that existed at the first start: a
     * table created later that matches it is captured too (TableFilter: "those matching an include
     * pattern"), at the latest once the worker restarts.
     */
    @Test
    void tableCreatedLaterThatMatchesAnIncludePatternIsCaptured() {
        String url = newDatabase("cap_filter_include_later");
        sql(url, "CREATE SCHEMA app", "CREATE TABLE app.first (id int PRIMARY KEY)", "CREATE TABLE public.other (id int PRIMARY KEY)");
        CaptureOptions.Builder options = options(url).include(List.of("app.*"));
        try (CaptureWorker worker = start(options)) {
            sql(url, "CREATE TABLE app.later (id int PRIMARY KEY)", "CREATE TABLE public.other_later (id int PRIMARY KEY)");
            sql(url, "INSERT INTO app.first VALUES (1)", "INSERT INTO app.later VALUES (1)", "INSERT INTO public.other_later VALUES (1)");
            worker.awaitCaughtUp(CATCH_UP);
        }
        try (CaptureWorker worker = start(options)) {
            sql(url, "INSERT INTO app.first VALUES (2)", "INSERT INTO app.later VALUES (2)", "INSERT INTO public.other_later VALUES (2)");
            worker.awaitCaughtUp(CATCH_UP);
        }
        assertThat(query(url, "SELECT \"schema\" || '.' || \"table\", primary_key ->> 'id' FROM annals.changes ORDER BY position"))
                .containsExactly(List.of("app.first", "1"), List.of("app.later", "1"),
                        List.of("app.first", "2"), List.of("app.later", "2"));
    }

    @Test
    void excludeOnlyCapturesEverythingElse() {
        String url = newDatabase("cap_filter_exclude");
        sql(url, "CREATE TABLE keep (id int PRIMARY KEY)", "CREATE TABLE audit_log (id int PRIMARY KEY)",
                "INSERT INTO audit_log VALUES (0)");
        try (CaptureWorker worker = start(options(url).exclude(List.of("*.audit_*")))) {
            sql(url, "INSERT INTO keep VALUES (1)", "INSERT INTO audit_log VALUES (1)");
            sql(url, "CREATE TABLE audit_later (id int PRIMARY KEY)", "CREATE TABLE keep_later (id int PRIMARY KEY)",
                    "INSERT INTO audit_later VALUES (1)", "INSERT INTO keep_later VALUES (1)");
            worker.awaitCaughtUp(CATCH_UP);
            assertThat(query(url, "SELECT \"table\", operation FROM annals.changes ORDER BY position"))
                    .containsExactly(List.of("keep", "CREATE"), List.of("keep_later", "CREATE"));
        }
    }

    @Test
    void omittedAndMaskedColumns() {
        String url = newDatabase("cap_filter_columns");
        sql(url, "CREATE TABLE users (id int PRIMARY KEY, name text, password text, ssn text)",
                "INSERT INTO users VALUES (1, 'ann', 'p1', '111'), (2, 'bob', 'p2', NULL)");
        try (CaptureWorker worker = start(options(url).replicaIdentityFull(true)
                .omitColumns(List.of("*.password")).maskColumns(List.of("public.users.ssn")))) {
            sql(url, "INSERT INTO users VALUES (3, 'cy', 'p3', '333'), (4, 'di', 'p4', NULL)");
            sql(url, "UPDATE users SET password = 'new', name = 'ann2' WHERE id = 1");
            sql(url, "UPDATE users SET ssn = '222' WHERE id = 2");
            sql(url, "DELETE FROM users WHERE id = 3");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = changesOf(url, "users");
            assertThat(changes).extracting(Change::operation)
                    .containsExactly("SNAPSHOT", "SNAPSHOT", "CREATE", "CREATE", "UPDATE", "UPDATE", "DELETE");
            assertThat(changes.get(0).after()).isEqualTo(object("id", 1, "name", "ann", "ssn", "****"));
            assertThat(changes.get(1).after()).isEqualTo(object("id", 2, "name", "bob", "ssn", null));
            assertThat(changes.get(2).after()).isEqualTo(object("id", 3, "name", "cy", "ssn", "****"));
            assertThat(changes.get(3).after()).isEqualTo(object("id", 4, "name", "di", "ssn", null));
            Change pwChange = changes.get(4);
            assertThat(pwChange.before()).isEqualTo(object("id", 1, "name", "ann", "ssn", "****"));
            assertThat(pwChange.after()).isEqualTo(object("id", 1, "name", "ann2", "ssn", "****"));
            // The omitted password changed: its value is never stored, but the change is (a revert must
            // know it cannot restore it). Only a full old image shows it.
            assertThat(pwChange.changedColumns()).containsExactly("name", "password");
            Change ssnChange = changes.get(5);
            assertThat(ssnChange.before()).isEqualTo(object("id", 2, "name", "bob", "ssn", null));
            assertThat(ssnChange.after()).isEqualTo(object("id", 2, "name", "bob", "ssn", "****"));
            assertThat(ssnChange.changedColumns()).containsExactly("ssn");
            assertThat(changes.get(6).before()).isEqualTo(object("id", 3, "name", "cy", "ssn", "****"));
            for (Change c : changes) {
                assertThat(c.after() == null || !c.after().has("password")).as("password in %s", c).isTrue();
                assertThat(c.before() == null || !c.before().has("password")).as("password in %s", c).isTrue();
            }
            // Every change says which values it withheld: the omitted password always, the masked ssn
            // where an image holds its placeholder (a NULL ssn is stored as the NULL it was).
            assertThat(query(url, "SELECT coalesce(withheld::text, '') FROM annals.changes WHERE \"table\" = 'users'"
                    + " ORDER BY position")).extracting(row -> row.get(0)).containsExactly("{password,ssn}", "{password}",
                    "{password,ssn}", "{password}", "{password,ssn}", "{password,ssn}", "{password,ssn}");
            assertThat(scalar(url, "SELECT count(*) FROM annals.changes WHERE after::text ~ '(p1|p2|p3|p4|111|222|333)'"
                    + " OR before::text ~ '(p1|p2|p3|p4|111|222|333)'")).isEqualTo("0");
        }
    }

    @Test
    void maskedAndOmittedColumnsWithKeyOnlyBeforeImages() {
        String url = newDatabase("cap_filter_mask_default");
        sql(url, "CREATE TABLE users (id int PRIMARY KEY, name text, token text)");
        try (CaptureWorker worker = start(options(url).maskColumns(List.of("users.token")).omitColumns(List.of("users.name")))) {
            sql(url, "INSERT INTO users VALUES (1, 'ann', 'secret'), (2, 'bob', 'other')");
            sql(url, "UPDATE users SET token = NULL WHERE id = 1");
            sql(url, "UPDATE users SET name = 'changed' WHERE id = 2");
            worker.awaitCaughtUp(CATCH_UP);
            List<Change> changes = changesOf(url, "users");
            assertThat(changes).extracting(Change::after).containsExactly(
                    object("id", 1, "token", "****"), object("id", 2, "token", "****"),
                    object("id", 1, "token", null), object("id", 2, "token", "****"));
            assertThat(changes.get(2).before()).isEqualTo(object("id", 1));
            assertThat(changes.get(2).changedColumns()).as("a masked value that became NULL").containsExactly("token");
            assertThat(changes.get(3).changedColumns()).as("omitted columns are never listed").isEmpty();
        }
    }

    @Test
    void omittingAPrimaryKeyColumnFailsClearly() {
        String url = newDatabase("cap_filter_omit_pk");
        sql(url, "CREATE TABLE accounts (id int PRIMARY KEY, balance int)");
        assertThatThrownBy(() -> {
            try (CaptureWorker worker = start(options(url).omitColumns(List.of("accounts.id")))) {
                sql(url, "INSERT INTO accounts VALUES (1, 10)");
                worker.awaitCaughtUp(CATCH_UP);
            }
        }).isInstanceOf(CaptureException.class)
                .hasMessageContaining("accounts.id")
                .hasMessageContaining("primary key")
                .hasMessageContaining("omitted")
                .hasMessageContaining("narrow the column pattern");
        // Refused before anything was set up or written.
        assertThat(scalar(url, "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()")).isEqualTo("0");
        assertThat(scalar(url, "SELECT to_regclass('annals.changes') IS NULL")).isEqualTo("t");
    }

    @Test
    void maskingAPrimaryKeyColumnFailsClearlyAndStoresNoMaskedKeys() {
        String url = newDatabase("cap_filter_mask_pk");
        sql(url, "CREATE TABLE accounts (id int PRIMARY KEY, balance int)", "INSERT INTO accounts VALUES (1, 10), (2, 20)");
        assertThatThrownBy(() -> {
            try (CaptureWorker worker = start(options(url).maskColumns(List.of("*.id")))) {
                sql(url, "UPDATE accounts SET balance = 11 WHERE id = 1");
                worker.awaitCaughtUp(CATCH_UP);
            }
        }).isInstanceOf(CaptureException.class)
                .hasMessageContaining("accounts.id")
                .hasMessageContaining("primary key")
                .hasMessageContaining("masked");
        // Rows identified by "****" could never be told apart: none may be stored.
        assertThat(scalar(url, "SELECT to_regclass('annals.changes') IS NULL"))
                .as("refused before the snapshot could store masked keys").isEqualTo("t");
    }
}
