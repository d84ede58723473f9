package io.annals.capture.pipeline;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Whether a column changed is decided by comparing the new value with the last stored image, which
 * jsonb may spell differently; it must never hide a change of numeric scale, which to_jsonb shows
 * and a revert must restore.
 */
class LastImagesSameValueTest {

    @Test
    void aChangeOfScaleIsAChange() {
        assertThat(LastImages.sameValue("2.50", "2.5")).isFalse();
        assertThat(LastImages.sameValue("0", "0.00")).isFalse();
        assertThat(LastImages.sameValue("{\"n\":[1,2.50]}", "{\"n\":[1,2.5]}")).isFalse();
    }

    @Test
    void theSameNumberSpelledAsJsonbSpellsItIsNoChange() {
        assertThat(LastImages.sameValue("1e3", "1000")).isTrue();
        assertThat(LastImages.sameValue("1.50e1", "15.0")).isTrue();
        assertThat(LastImages.sameValue("1e+20", "100000000000000000000")).isTrue();
        assertThat(LastImages.sameValue("{\"b\":1,\"a\":2.50}", "{\"a\":2.50,\"b\":1}")).isTrue();
        assertThat(LastImages.sameValue(null, "null")).isTrue();
    }
}
