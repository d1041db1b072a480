package dev.keel.herokuapi;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Pure pieces of the Heroku API: log lines as Heroku shows Postgres logs, and the reasons for what Keel leaves out. */
class HerokuPiecesTest {
    @Test
    void serverLogLinesLookLikeHerokusPostgresLogsAndAStatementsNextLineKeepsItsProcess() {
        HerokuLogLines lines = new HerokuLogLines("DATABASE");
        assertThat(lines.format("2026-12-02 10:00:00.123 UTC [4711] owner@d1 ERROR:  division by zero"))
                .isEqualTo("2026-12-02T10:00:00.123+00:00 app[postgres.4711]: [DATABASE] owner@d1 ERROR:  division by zero");
        assertThat(lines.format("\tfrom items")).isEqualTo("2026-12-02T10:00:00.123+00:00 app[postgres.4711]: [DATABASE] \tfrom items");
        assertThat(new HerokuLogLines("HEROKU_POSTGRESQL_AMBER").format("2026-12-02 10:00:00 CET [9] @ LOG:  x"))
                .isEqualTo("2026-12-02T10:00:00 CET app[postgres.9]: [HEROKU_POSTGRESQL_AMBER] @ LOG:  x");
        assertThat(new HerokuLogLines("DATABASE").format("no prefix at all")).isEqualTo("app[postgres.0]: [DATABASE] no prefix at all");
    }

    @Test
    void eachAreaKeelLeavesOutHasItsReasonAndAnyOtherPathAGeneralOne() {
        assertThat(HerokuUnsupported.reason("POST", "/apps/web/dynos")).startsWith("Keel runs no dynos");
        assertThat(HerokuUnsupported.reason("PATCH", "/apps/web/formation/web")).startsWith("Keel runs no dynos");
        assertThat(HerokuUnsupported.reason("GET", "/buildpacks")).startsWith("Keel builds and runs no code");
        assertThat(HerokuUnsupported.reason("PATCH", "/apps/web/config-vars")).startsWith("Keel keeps no config vars of its own");
        assertThat(HerokuUnsupported.reason("GET", "/apps/web/log-drains")).startsWith("Keel keeps no log drains");
        assertThat(HerokuUnsupported.reason("GET", "/spaces/s1")).startsWith("Keel has no private spaces");
        assertThat(HerokuUnsupported.reason("DELETE", "/somewhere/else")).contains("DELETE /somewhere/else is not a call those commands make");
    }
}
