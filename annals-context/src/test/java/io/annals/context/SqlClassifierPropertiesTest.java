package io.annals.context;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

import static org.assertj.core.api.Assertions.assertThat;

class SqlClassifierPropertiesTest {

    @Property
    void neverFailsOnAnyText(@ForAll String sql) {
        SqlClassifier.classify(sql);
    }

    @Property
    void aLeadingCommentChangesNothing(@ForAll String comment, @ForAll("statements") String sql) {
        // No '*' and no '/': a comment ending in '/' would make "/*" of its closing "*/", opening a
        // nested comment (PostgreSQL nests them), which is no longer "a comment".
        String safeComment = comment.replace("*", "").replace("/", "");
        assertThat(SqlClassifier.classify("/*" + safeComment + "*/ " + sql)).isEqualTo(SqlClassifier.classify(sql));
        assertThat(SqlClassifier.classify("--" + safeComment.replace('\n', ' ').replace('\r', ' ') + "\n" + sql))
                .isEqualTo(SqlClassifier.classify(sql));
    }

    @Property
    void aWriteAfterReadsInOneStringIsSeen(@ForAll("reads") String read) {
        assertThat(SqlClassifier.classify(read + "; DELETE FROM t").writes()).isTrue();
    }

    @net.jqwik.api.Provide
    net.jqwik.api.Arbitrary<String> statements() {
        return net.jqwik.api.Arbitraries.of("SELECT 1", "INSERT INTO t VALUES (1)", "COMMIT", "VACUUM", "WITH x AS (SELECT 1) TABLE x",
                "SELECT 'a;b'", "UPDATE t SET a = $$;$$");
    }

    @net.jqwik.api.Provide
    net.jqwik.api.Arbitrary<String> reads() {
        return net.jqwik.api.Arbitraries.of("SELECT 1", "SHOW work_mem", "SELECT ';'", "SELECT $x$ ; $x$", "SET a.b = 'c'",
                "SELECT \"a;\" FROM t", "VALUES (1)");
    }
}
