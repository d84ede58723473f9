package io.annals.projections;

import io.annals.changelog.Position;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** Mappings that fail (quarantine, halt, skip, retry, discard) and definitions that cannot work. */
class FailuresTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private Captured db;

    /** A database per test: a new projection reads its log from the start. */
    @BeforeEach
    void start() {
        db = new Captured("proj_fail",
                "CREATE TABLE payment (id bigint PRIMARY KEY, amount numeric(10,2) NOT NULL, note text)",
                "CREATE TABLE ledger (canonical_type text NOT NULL, canonical_pk jsonb NOT NULL, amount numeric(10,2), note text)",
                "CREATE INDEX ON ledger (canonical_type, canonical_pk)",
                "CREATE TABLE bare (id bigint, amount numeric)",
                "CREATE TABLE item (id bigint PRIMARY KEY, payment_id bigint)",
                "CREATE TABLE unindexed (canonical_type text, canonical_pk jsonb, amount numeric)",
                "CREATE TABLE no_canonical (amount numeric)");
    }

    @AfterEach
    void stop() {
        db.close();
    }

    /** A mapping that fails on notes saying "poison" until it is fixed. */
    private static Projection ledger(String name, FailurePolicy policy, AtomicBoolean fixed) {
        return Projection.named(name).into("public.ledger")
                .from("public.payment", c -> {
                    if ("poison".equals(c.after("note")) && !fixed.get()) throw new IllegalStateException("cannot map a poison note");
                    return List.of(Wave.row("amount", c.after("amount"), "note", c.after("note")));
                })
                .onFailure(policy).build();
    }

    private Projections projections() {
        return Projections.over(db.changeLog).pollInterval(Duration.ofMillis(200)).build();
    }

    @Test
    void haltStopsJustBeforeTheFailingChangeAndResumesOnceTheMappingIsFixed() {
        AtomicBoolean fixed = new AtomicBoolean(false);
        Projection p = ledger("halting", FailurePolicy.HALT, fixed);
        Projections projections = projections();
        try (RunningProjection running = projections.start(p)) {
            // One transaction: the change before the poison one must still be applied.
            db.transaction("INSERT INTO payment VALUES (1, 1.00, 'ok')", "INSERT INTO payment VALUES (2, 2.00, 'poison')",
                    "INSERT INTO payment VALUES (3, 3.00, 'after')");
            db.sync();
            await().atMost(WAIT).until(() -> running.state() == RunningProjection.State.HALTED);
            assertThat(running.failure().orElseThrow()).hasMessageContaining("halted").hasMessageContaining("poison");
            assertThat(db.rows("SELECT canonical_pk, note FROM ledger ORDER BY canonical_pk")).containsExactly("{\"id\": 1} | ok");
            List<QuarantinedChange> q = projections.quarantined("halting");
            assertThat(q).singleElement().satisfies(c -> {
                assertThat(c.canonicalPk()).isEqualTo("{\"id\": 2}");
                assertThat(c.error()).contains("cannot map a poison note");
                assertThat(c.policy()).isEqualTo(FailurePolicy.HALT);
            });
            assertThat(projections.status("halting").orElseThrow().quarantined()).isEqualTo(1);

            fixed.set(true);
            assertThat(running.awaitCaughtUp(WAIT)).isTrue();
            assertThat(db.rows("SELECT canonical_pk, note FROM ledger ORDER BY canonical_pk"))
                    .containsExactly("{\"id\": 1} | ok", "{\"id\": 2} | poison", "{\"id\": 3} | after");
            assertThat(projections.quarantined("halting")).isEmpty();
        }
    }

    @Test
    void aDiscardedChangeIsPassedByAHaltedProjection() {
        Projection p = ledger("discarding", FailurePolicy.HALT, new AtomicBoolean(false));
        Projections projections = projections();
        try (RunningProjection running = projections.start(p)) {
            db.execute("INSERT INTO payment VALUES (10, 1.00, 'poison')", "INSERT INTO payment VALUES (11, 2.00, 'fine')");
            db.sync();
            await().atMost(WAIT).until(() -> running.state() == RunningProjection.State.HALTED);
            Position at = projections.quarantined("discarding").get(0).position();
            assertThat(projections.discard("discarding", at)).isTrue();
            assertThat(running.awaitCaughtUp(WAIT)).isTrue();
            assertThat(db.rows("SELECT canonical_pk FROM ledger ORDER BY canonical_pk")).containsExactly("{\"id\": 11}");
        }
    }

    @Test
    void skipGoesOnAndARetryAfterTheFixDerivesTheKeyFromTheSourceAsItIsNow() {
        AtomicBoolean fixed = new AtomicBoolean(false);
        Projection p = ledger("skipping", FailurePolicy.SKIP, fixed);
        Projections projections = projections();
        try (RunningProjection running = projections.start(p)) {
            db.execute("INSERT INTO payment VALUES (20, 1.00, 'poison')", "INSERT INTO payment VALUES (21, 2.00, 'fine')");
            db.sync();
            assertThat(running.awaitCaughtUp(WAIT)).isTrue();
            assertThat(db.rows("SELECT canonical_pk FROM ledger ORDER BY canonical_pk")).containsExactly("{\"id\": 21}");
            assertThat(projections.quarantined("skipping")).singleElement()
                    .satisfies(c -> assertThat(c.policy()).isEqualTo(FailurePolicy.SKIP));

            assertThat(projections.retry(p)).as("still failing").isZero();
            fixed.set(true);
            assertThat(projections.retry(p)).isEqualTo(1);
            assertThat(db.rows("SELECT canonical_pk, note FROM ledger ORDER BY canonical_pk"))
                    .containsExactly("{\"id\": 20} | poison", "{\"id\": 21} | fine");
            assertThat(projections.quarantined("skipping")).isEmpty();
            assertThat(projections.verify(p).consistent()).isTrue();
        }
    }

    @Test
    void badDefinitionsFailAtStartNamingTheProjectionAndTheFix() {
        Projections projections = projections();
        assertThatThrownBy(() -> projections.start(Projection.named("p1").into("public.ledger")
                .from("public.nope", c -> List.of()).build()))
                .isInstanceOf(ProjectionException.class)
                .hasMessageContaining("p1").hasMessageContaining("public.nope does not exist");
        assertThatThrownBy(() -> Projection.named("p2").into("public.ledger").fromQuery("public.payment",
                "SELECT id AS canonical_pk, amount FROM payment"))
                .hasMessageContaining("p2").hasMessageContaining(":ids");
        assertThatThrownBy(() -> projections.start(Projection.named("p3").into("public.no_canonical")
                .from("public.payment", c -> List.of()).build()))
                .hasMessageContaining("p3").hasMessageContaining("canonical_type text and canonical_pk jsonb")
                .hasMessageContaining("ALTER TABLE");
        assertThatThrownBy(() -> projections.start(Projection.named("p4").into("public.unindexed")
                .from("public.payment", c -> List.of()).build()))
                .hasMessageContaining("p4").hasMessageContaining("CREATE INDEX ON");
        assertThatThrownBy(() -> projections.start(Projection.named("p5").into("public.ledger")
                .fromQuery("public.payment", "SELECT id AS canonical_pk, amount AS total FROM payment WHERE id = ANY(:ids::bigint[])")
                .build()))
                .hasMessageContaining("p5").hasMessageContaining("returns column total");
        assertThatThrownBy(() -> projections.start(Projection.named("p6").into("public.ledger")
                .fromQuery("public.payment", "SELECT amount FROM payment WHERE id = ANY(:ids::bigint[])").build()))
                .hasMessageContaining("p6").hasMessageContaining("no canonical_pk column");
        assertThatThrownBy(() -> projections.start(Projection.named("p7").into("public.ledger")
                .from("public.bare", c -> List.of()).build()))
                .hasMessageContaining("p7").hasMessageContaining("no primary key");
        assertThatThrownBy(() -> projections.start(Projection.named("p8").into("public.ledger")
                .fromQuery("public.payment", "SELECT id AS canonical_pk FROM payment WHERE id = ANY(:ids::bigint[])")
                .dependsOnColumn("public.item", "payment_id").build()))
                .hasMessageContaining("p8").hasMessageContaining("REPLICA IDENTITY FULL");
        assertThatThrownBy(() -> Projection.named("bad name!"))
                .hasMessageContaining("letters, digits");
    }
}
