package io.annals.history.keyframes;

import io.annals.changelog.Operation;
import io.annals.changelog.Position;
import io.annals.history.AuditTrail;
import io.annals.history.HistoryException;
import io.annals.history.HistoryTestSupport;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Bad settings and impossible keyframes get clear errors. */
class KeyframesErrorsTest extends HistoryTestSupport {

    @Test
    void badKeyframerSettingsSayWhatIsWrong() {
        Keyframes keyframes = AuditTrail.of(newChangeLog("keyframes_settings")).keyframes();
        assertThatThrownBy(() -> keyframes.keyframer().everyChanges(-5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("everyChanges must be a positive number").hasMessageContaining("-5");
        assertThatThrownBy(() -> keyframes.keyframer().every(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("interval must be positive");
        assertThatThrownBy(() -> keyframes.keyframer().changesPerRow(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("changesPerRow must be a number of changes per row, 0 or more");
        assertThatThrownBy(() -> keyframes.keyframer().changesPerRow(Double.NaN)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not NaN");
        assertThatThrownBy(() -> keyframes.keyframer().keep(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 1 keyframe per table");
        assertThatThrownBy(() -> keyframes.keyframer().batchSize(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("batch size must be 1 to 100,000");
        assertThatThrownBy(() -> keyframes.keyframer().named(" ")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("needs a feed name");
        assertThatThrownBy(() -> keyframes.keyframer().everyChanges(0).start()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("needs a trigger");
        assertThatThrownBy(() -> keyframes.prune(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Keep at least 0");
    }

    @Test
    void aKeyframeThatCannotBeBuiltIsRefusedWithTheReason() {
        String url = newChangeLog("keyframes_refused");
        Keyframes keyframes = AuditTrail.of(url).keyframes();
        assertThatThrownBy(() -> keyframes.build("public.nothing")).isInstanceOf(HistoryException.class)
                .hasMessageContaining("Unknown table 'public.nothing'");
        insert(url, List.of(
                new Row(Position.of(0x100, 0), 1, T0, "public", "logs", Operation.CREATE, null, null, "{\"m\": 1}", null, "{}"),
                new Row(Position.of(0x200, 0), 2, T0.plusSeconds(1), "public", "orders", Operation.CREATE, "{\"id\": 1}",
                        null, "{\"id\": 1}", null, "{}")));
        assertThatThrownBy(() -> keyframes.build("logs")).isInstanceOf(HistoryException.class)
                .hasMessageContaining("public.logs has no primary key").hasMessageContaining("give it a primary key");
        assertThatThrownBy(() -> keyframes.build("orders", Position.of(0x100, 0))).isInstanceOf(HistoryException.class)
                .hasMessageContaining("holds no change of public.orders at or before 0000000000000100.00000000");
        assertThat(keyframes.list()).isEmpty();
        Keyframe k = keyframes.build("orders");
        assertThat(k.rows()).isEqualTo(1);
        assertThat(keyframes.build("orders")).as("built once, found the second time").isEqualTo(k);
        assertThat(keyframes.prune(0)).isEqualTo(1);
        assertThat(keyframes.list()).isEmpty();
    }
}
