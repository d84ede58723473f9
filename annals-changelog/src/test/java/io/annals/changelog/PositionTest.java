package io.annals.changelog;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The change log orders by the text form, so text order must be the numeric order. */
class PositionTest {

    @Property
    void textOrderIsNumericOrder(@ForAll long lsnA, @ForAll @LongRange(min = 0, max = Position.MAX_ORDINAL) long ordA,
                                 @ForAll long lsnB, @ForAll @LongRange(min = 0, max = Position.MAX_ORDINAL) long ordB) {
        Position a = Position.of(lsnA, ordA);
        Position b = Position.of(lsnB, ordB);
        assertThat(Integer.signum(a.toString().compareTo(b.toString()))).isEqualTo(Integer.signum(a.compareTo(b)));
        assertThat(Position.parse(a.toString())).isEqualTo(a);
        assertThat(a.appendTo(new StringBuilder("x")).toString()).as("the writer's form").isEqualTo("x" + a);
    }

    @Test
    void readsPostgresLsnNotation() {
        Position p = Position.parse("16/B374D848");
        assertThat(p.lsn()).isEqualTo(0x16B374D848L);
        assertThat(p.ordinal()).isZero();
        assertThat(p.lsnText()).isEqualTo("16/B374D848");
        assertThat(Position.of(0x16B3748L, 3).toString()).isEqualTo("00000000016B3748.00000003");
    }

    @Test
    void rejectsWhatIsNotAPosition() {
        assertThatThrownBy(() -> Position.parse("yesterday")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Not a position: 'yesterday'");
        assertThatThrownBy(() -> Position.of(1, -1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Position.of(1, Position.MAX_ORDINAL + 1)).isInstanceOf(IllegalArgumentException.class);
    }
}
