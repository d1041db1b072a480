package dev.keel.instances;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.assertj.core.api.Assertions.assertThat;

/** Reading a server log bounded: whole lines only, from where a reader left off, never more than a read's worth. */
class ServerLogsTest {
    @TempDir
    Path dir;

    @Test
    void aLineStillBeingWrittenWaitsForTheNextRead() throws IOException {
        Path log = dir.resolve("postgresql.log");
        Files.writeString(log, "one\ntwo\nthr");
        ServerLogs.Lines first = ServerLogs.tail(LogSource.file(log), 10);
        assertThat(first.lines()).containsExactly("one", "two");
        assertThat(first.end()).isEqualTo(8);
        Files.writeString(log, "ee\nfour\n", StandardOpenOption.APPEND);
        ServerLogs.Lines next = ServerLogs.since(LogSource.file(log), first.end());
        assertThat(next.lines()).containsExactly("three", "four");
        assertThat(ServerLogs.since(LogSource.file(log), next.end()).lines()).isEmpty();
    }

    @Test
    void tailGivesTheLastLinesAndReadsOnlyTheEndOfALargeLog() throws IOException {
        Path log = dir.resolve("postgresql.log");
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 200_000; i++) {
            text.append("line ").append(i).append(" of a log larger than one read\n");
        }
        Files.writeString(log, text);
        assertThat(Files.size(log)).isGreaterThan(ServerLogs.MAX_BYTES);
        ServerLogs.Lines tail = ServerLogs.tail(LogSource.file(log), 3);
        assertThat(tail.lines()).containsExactly("line 199997 of a log larger than one read", "line 199998 of a log larger than one read",
                "line 199999 of a log larger than one read");
        assertThat(tail.end()).isEqualTo(Files.size(log));
        ServerLogs.Lines all = ServerLogs.tail(LogSource.file(log), Integer.MAX_VALUE);
        assertThat(all.lines().get(0)).matches("line \\d+ of a log larger than one read"); // a whole line, never the part of one
        assertThat(all.lines().stream().mapToInt(l -> l.length() + 1).sum()).isLessThanOrEqualTo(ServerLogs.MAX_BYTES);
    }

    @Test
    void aLogThatShrankIsReadFromItsStartAndALineLongerThanAReadIsCut() throws IOException {
        Path log = dir.resolve("postgresql.log");
        Files.writeString(log, "a long first log\nsecond\n");
        long end = ServerLogs.tail(LogSource.file(log), 10).end();
        Files.writeString(log, "rotated\n");
        assertThat(ServerLogs.since(LogSource.file(log), end).lines()).containsExactly("rotated");

        Files.writeString(log, "x".repeat(ServerLogs.MAX_BYTES + 10) + "\nafter\n", StandardCharsets.UTF_8);
        ServerLogs.Lines cut = ServerLogs.since(LogSource.file(log), 0);
        assertThat(cut.lines()).hasSize(1);
        assertThat(cut.lines().get(0)).hasSize(ServerLogs.MAX_BYTES);
        ServerLogs.Lines rest = ServerLogs.since(LogSource.file(log), cut.end());
        assertThat(rest.lines()).containsExactly("xxxxxxxxxx", "after");
        assertThat(ServerLogs.tail(LogSource.file(dir.resolve("missing.log")), 5).lines()).isEmpty();
    }

    /** {@code heroku logs} shows raw lines: a password in a statement of Keel's own sessions is blanked there too, a tenant's is not. */
    @Test
    void aPasswordInAStatementOfKeelsOwnSessionIsBlankedInARawLine() {
        String keel = "2026-12-04 06:30:01.123 UTC [4242] " + InstanceConfig.SUPERUSER + "@postgres LOG:  statement: ALTER ROLE app"
                + " PASSWORD 'secret''s'";
        assertThat(ServerLog.redacted(keel)).endsWith("statement: ALTER ROLE app PASSWORD '<redacted>'").doesNotContain("secret");
        String tenant = "2026-12-04 06:30:01.123 UTC [4243] owner@db LOG:  statement: ALTER ROLE mine PASSWORD 'theirs'";
        assertThat(ServerLog.redacted(tenant)).isEqualTo(tenant);
        // A line without a role (a part of one, as a follower may read after its log was emptied and grew again) counts as Keel's.
        assertThat(ServerLog.redacted("role app PASSWORD 'unprefixed'")).isEqualTo("role app PASSWORD '<redacted>'");
        assertThat(ServerLog.parse("ole app PASSWORD 'part'\n").get(0).message()).isEqualTo("ole app PASSWORD '<redacted>'");
        // A connection string's password (an upgrade's subscription), bare or quoted with backslash escapes.
        String conninfo = "2026-12-04 06:30:01.123 UTC [4244] " + InstanceConfig.SUPERUSER + "@d1 STATEMENT:  create subscription"
                + " keel_upgrade connection 'host=10.0.0.1 port=5432 user=keel_upgrade_1 password=Zx9secret sslmode=verify-full'";
        assertThat(ServerLog.redacted(conninfo)).contains("user=keel_upgrade_1 password='<redacted>' sslmode=verify-full")
                .doesNotContain("Zx9secret");
        String quoted = "2026-12-04 06:30:01.123 UTC [4245] " + InstanceConfig.SUPERUSER + "@d1 LOG:  x password = 'a\\'b secret' y";
        assertThat(ServerLog.redacted(quoted)).endsWith("x password = '<redacted>' y").doesNotContain("secret");
        // A tenant's function run as Keel (a materialized view refreshed) may log any text: a long one leaves the matcher shallow.
        String longLine = "2026-12-04 06:30:01.123 UTC [4246] " + InstanceConfig.SUPERUSER + "@d1 LOG:  password '" + "x".repeat(200_000);
        assertThat(ServerLog.redacted(longLine)).isEqualTo(longLine);
        assertThat(ServerLog.redacted(longLine.replace("password '", "password="))).endsWith("LOG:  password='<redacted>'");
    }
}
