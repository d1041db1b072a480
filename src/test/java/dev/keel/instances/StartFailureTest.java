package dev.keel.instances;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
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
        assertThat(Reconfiguration.said(List.of())).isEqualTo("its log says nothing of why");
    }

    @Test
    void aLongEntryIsCutAndManyEntriesLoseTheEarliestButNeverTheLastWhichSaysWhy() {
        String value = "9".repeat(100_000);
        String one = Reconfiguration.said(List.of(entry("LOG", "invalid value for parameter \"max_connections\": " + value),
                entry("FATAL", "configuration file \"keel.conf\" contains errors")));
        assertThat(one).startsWith("LOG:  invalid value for parameter \"max_connections\": 999")
                .endsWith("[cut; the server's log has the rest]; FATAL:  configuration file \"keel.conf\" contains errors")
                .hasSizeLessThan(700);

        List<ServerLog.Entry> many = new ArrayList<>(Collections.nCopies(10_000, entry("WARNING", "parameter \"x\" is deprecated")));
        many.add(entry("FATAL", "could not access file \"keel_no_such_library\": No such file or directory"));
        String manySaid = Reconfiguration.said(many);
        assertThat(manySaid).hasSizeLessThan(2_100).matches("\\[\\d+ earlier lines left out; the server's log has them] WARNING: .*")
                .endsWith("; FATAL:  could not access file \"keel_no_such_library\": No such file or directory");
    }
}
