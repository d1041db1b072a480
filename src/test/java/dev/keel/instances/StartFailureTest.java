package dev.keel.instances;

import org.junit.jupiter.api.Test;

import java.util.Collections;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** What an operation's error quotes of a server's log when the server did not start ({@link Reconfiguration#said}). */
class StartFailureTest {
    private static ServerLog.Entry entry(String level, String message) {
        return new ServerLog.Entry(null, 42, null, null, level, message);
    }

    @Test
    void theServersWordsAreQuotedWholeWhenShort() {
        assertThat(Reconfiguration.said(List.of(entry("LOG", "invalid value for parameter \"max_connections\": 262143"),
                entry("FATAL", "configuration file \"keel.conf\"\ncontains errors"))))
                .isEqualTo("LOG:  invalid value for parameter \"max_connections\": 262143; FATAL:  configuration file \"keel.conf\" contains errors");
    }

    @Test
    void aLongEntryAndManyEntriesAreCutSoThatTheErrorStaysReadable() {
        String value = "9".repeat(100_000);
        String one = Reconfiguration.said(List.of(entry("LOG", "invalid value for parameter \"max_connections\": " + value),
                entry("FATAL", "configuration file \"keel.conf\" contains errors")));
        assertThat(one).startsWith("LOG:  invalid value for parameter \"max_connections\": 999")
                .contains("[cut; the server's log has the rest]; FATAL:  configuration file \"keel.conf\" contains errors")
                .hasSizeLessThan(700);

        String many = Reconfiguration.said(Collections.nCopies(10_000, entry("WARNING", "parameter \"x\" is deprecated")));
        assertThat(many).hasSizeLessThan(2_100).endsWith("[cut; the server's log has the rest]");
    }
}
