package dev.keel.postgres;

import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PortRangeTest {
    @Test
    void parsesARangeAndASinglePort() {
        assertThat(PortRange.parse("55000-55999")).isEqualTo(new PortRange(55000, 55999));
        assertThat(PortRange.parse(" 6000 ")).isEqualTo(new PortRange(6000, 6000));
        assertThat(PortRange.parse("55000-55999").size()).isEqualTo(1000);
    }

    @Test
    void rejectsMalformedOrBackwardRanges() {
        assertThatThrownBy(() -> PortRange.parse("a-b")).hasMessage("a port range is FIRST-LAST, such as 25000-25999, not 'a-b'");
        assertThatThrownBy(() -> PortRange.parse("6000-5000")).hasMessage("a port range is FIRST-LAST within 1-65535, not 6000-5000");
        assertThatThrownBy(() -> PortRange.parse("0-10")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PortRange.parse("1-70000")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void firstFreeSkipsReservedAndUnbindablePorts() {
        PortRange range = new PortRange(100, 105);
        assertThat(range.firstFree(Set.of(), p -> true)).hasValue(100);
        assertThat(range.firstFree(Set.of(100, 101), p -> true)).hasValue(102);
        assertThat(range.firstFree(Set.of(100), p -> p != 101 && p != 102)).hasValue(103);
    }

    @Test
    void firstFreeIsEmptyWhenTheRangeIsExhausted() {
        PortRange range = new PortRange(100, 101);
        assertThat(range.firstFree(Set.of(100), p -> p != 101)).isEmpty();
    }
}
