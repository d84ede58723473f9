package io.annals.history;

import io.annals.changelog.Operation;
import io.annals.testkit.TestPostgres;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.postgresql.ds.PGSimpleDataSource;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Keyset pages and server-side streams give exactly what one list() gives, in the same order. */
class PaginationAndStreamingTest extends HistoryTestSupport {

    static final int CHANGES = 237;
    static String url;
    static AuditTrail trail;

    /** 237 changes over two tables, in 80 transactions, committed a minute apart. */
    @BeforeAll
    static void manyChanges() {
        url = newChangeLog("history_pages");
        Log log = new Log();
        for (int i = 0; i < CHANGES; i++) {
            if (i % 3 == 0) log.tx();
            String table = i % 4 == 0 ? "public.accounts" : "public.orders";
            int id = i % 10;
            log.add(table, i % 10 == i ? Operation.CREATE : Operation.UPDATE, "{\"id\": " + id + "}",
                    "{\"id\": " + id + "}", "{\"id\": " + id + ", \"n\": " + i + "}", List.of("n"),
                    "{\"batch\": " + (i % 2) + "}");
        }
        insert(url, log.rows);
        trail = AuditTrail.of(url);
    }

    private static List<Change> allPages(ChangeQuery query, int size) {
        List<Change> out = new ArrayList<>();
        Page<Change> page = query.page(size);
        int pages = 1;
        while (true) {
            assertThat(page.items().size()).isLessThanOrEqualTo(size);
            out.addAll(page.items());
            if (page.next().isEmpty()) {
                assertThat(page.hasNext()).isFalse();
                assertThat(page.cursor()).isEmpty();
                break;
            }
            assertThat(page.items()).as("a page with a next page is full").hasSize(size);
            assertThat(page.cursor()).contains(page.items().get(size - 1).position().toString());
            page = page.next().get().page(size);
            pages++;
            assertThat(pages).as("pages for %d changes", CHANGES).isLessThanOrEqualTo(CHANGES + 1);
        }
        return out;
    }

    @ParameterizedTest(name = "pages of {0}")
    @ValueSource(ints = {1, 7, 50, 236, 237, 238, 1000})
    void pagesInBothOrdersCoverTheListWithoutGapsOrDuplicates(int size) {
        for (ChangeQuery q : List.of(trail.changes(), trail.changes().descending(),
                trail.changes().table("orders").contextContains(Map.of("batch", 1)).descending(),
                trail.history("orders", Map.of("id", 3)))) {
            List<Change> expected = q.list();
            assertThat(expected).isNotEmpty();
            List<Change> paged = allPages(q, size);
            assertThat(paged).as("%s in pages of %d", q, size).containsExactlyElementsOf(expected);
        }
        assertThat(trail.changes().list()).hasSize(CHANGES);
    }

    @Test
    void pagesSeeChangesAddedAfterThePreviousPageWithoutOffsetDrift() {
        String own = newChangeLog("history_pages_live");
        Log log = new Log();
        for (int i = 0; i < 5; i++) log.tx().add("public.t", Operation.CREATE, "{\"id\": " + i + "}", null, "{}", List.of(), "{}");
        insert(own, log.rows.subList(0, 3));
        Page<Change> first = AuditTrail.of(own).changes().page(2);
        insert(own, log.rows.subList(3, 5));
        Page<Change> second = first.next().orElseThrow().page(2);
        Page<Change> third = second.next().orElseThrow().page(2);
        List<Change> seen = new ArrayList<>(first.items());
        seen.addAll(second.items());
        seen.addAll(third.items());
        assertThat(positionsOf(seen)).containsExactlyElementsOf(log.rows.stream().map(r -> r.position().toString()).toList());
        assertThat(third.next()).isEmpty();
    }

    @Test
    void theCursorRoundTripsAsAString() {
        ChangeQuery q = trail.changes().table("orders").descending();
        Page<Change> first = q.page(10);
        String cursor = first.cursor().orElseThrow();
        assertThat(q.continueAfter(cursor).page(10).items()).containsExactlyElementsOf(first.next().orElseThrow().page(10).items());
        assertThat(q.continueAfter(cursor).list()).containsExactlyElementsOf(q.list().subList(10, q.list().size()));
        ChangeQuery asc = trail.changes();
        String ascCursor = asc.page(5).cursor().orElseThrow();
        assertThat(asc.continueAfter(ascCursor).limit(3).list()).containsExactlyElementsOf(asc.list().subList(5, 8));
    }

    @Test
    void aLimitCapsTheTotalAcrossPages() {
        List<Change> expected = trail.changes().limit(25).list();
        assertThat(expected).hasSize(25);
        Page<Change> p1 = trail.changes().limit(25).page(10);
        Page<Change> p2 = p1.next().orElseThrow().page(10);
        Page<Change> p3 = p2.next().orElseThrow().page(10);
        assertThat(p3.items()).hasSize(5);
        assertThat(p3.next()).isEmpty();
        List<Change> all = new ArrayList<>(p1.items());
        all.addAll(p2.items());
        all.addAll(p3.items());
        assertThat(all).containsExactlyElementsOf(expected);
        assertThat(trail.changes().limit(10).page(10).next()).as("limit reached exactly").isEmpty();
    }

    @Test
    void aStreamGivesWhatListGivesInEitherOrder() {
        for (ChangeQuery q : List.of(trail.changes(), trail.changes().descending(), trail.changes().table("accounts"))) {
            try (Stream<Change> s = q.fetchSize(7).stream()) {
                assertThat(s.toList()).containsExactlyElementsOf(q.list());
            }
        }
        try (Stream<Change> s = trail.changes().stream()) {
            Set<String> distinct = new HashSet<>();
            s.forEach(c -> assertThat(distinct.add(c.position().toString())).isTrue());
            assertThat(distinct).hasSize(CHANGES);
        }
        try (Stream<Change> s = trail.history("orders", Map.of("id", 3)).stream()) {
            assertThat(s.map(c -> c.after().get("n").asInt()).toList())
                    .isSortedAccordingTo(Integer::compare).isNotEmpty();
        }
    }

    @Test
    void aStreamReadsThroughAnOpenCursorAndReleasesItsConnectionWhenClosed() throws Exception {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(url);
        ds.setApplicationName("history_stream_probe");
        AuditTrail probed = AuditTrail.of(ds);
        try (Stream<Change> s = probed.changes().fetchSize(5).stream()) {
            List<Change> firstFew = s.limit(12).toList();
            assertThat(firstFew).hasSize(12);
            assertThat(backendStates()).as("the cursor's transaction stays open while the stream does")
                    .containsExactly("idle in transaction");
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!backendStates().isEmpty() && System.nanoTime() < deadline) Thread.sleep(20);
        assertThat(backendStates()).as("connection closed with the stream").isEmpty();
        try (Stream<Change> s = probed.changes().stream()) {
            assertThat(s.count()).as("the data source is still usable").isEqualTo(CHANGES);
        }
    }

    private static List<String> backendStates() throws SQLException {
        try (Connection c = TestPostgres.connect(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT state FROM pg_stat_activity WHERE application_name = 'history_stream_probe'")) {
            List<String> out = new ArrayList<>();
            while (rs.next()) out.add(rs.getString(1));
            return out;
        }
    }
}
