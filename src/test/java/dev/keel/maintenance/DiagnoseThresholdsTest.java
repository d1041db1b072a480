package dev.keel.maintenance;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The grading table of pg:diagnose: Heroku's checks, in Heroku's order, each with its source. */
class DiagnoseThresholdsTest {
    @Test
    void theTableHoldsHerokusChecksInHerokusOrderEachWithItsSource() {
        assertThat(DiagnoseThresholds.ALL).extracting(DiagnoseThresholds.Threshold::check).containsExactly("Connection Count",
                "Long Queries", "Long Transactions", "Idle in Transaction", "Indexes", "Bloat", "Hit Rate", "Blocking Queries",
                "Sequences", "Unlogged Tables", "Table Transaction ID Wraparound", "Database Transaction ID Wraparound",
                "Schema Count", "Load");
        assertThat(DiagnoseThresholds.ALL).allSatisfy(t -> assertThat(t.source()).isNotBlank());
        assertThat(DiagnoseThresholds.ALL).allSatisfy(t -> assertThat(t.unit()).isNotBlank());
    }

    @Test
    void aValueIsGreenBelowYellowYellowBelowRedAndRedFromRed() {
        assertThat(DiagnoseThresholds.CONNECTIONS.grade(0.74)).isEqualTo("green");
        assertThat(DiagnoseThresholds.CONNECTIONS.grade(0.75)).isEqualTo("yellow");
        assertThat(DiagnoseThresholds.CONNECTIONS.grade(0.9)).isEqualTo("red");
        assertThat(DiagnoseThresholds.LONG_QUERIES.grade(59)).isEqualTo("green"); // no yellow grade
        assertThat(DiagnoseThresholds.LONG_QUERIES.grade(60)).isEqualTo("red");
        assertThat(DiagnoseThresholds.UNLOGGED.grade(1)).isEqualTo("yellow"); // no red grade
        assertThat(DiagnoseThresholds.UNLOGGED.grade(1000)).isEqualTo("yellow");
        assertThat(DiagnoseThresholds.DATABASE_WRAPAROUND.grade(200_000_000)).isEqualTo("green");
        assertThat(DiagnoseThresholds.DATABASE_WRAPAROUND.grade(1_100_000_000)).isEqualTo("yellow");
        assertThat(DiagnoseThresholds.DATABASE_WRAPAROUND.grade(1_700_000_000)).isEqualTo("red");
        assertThat(DiagnoseThresholds.SCHEMA_COUNT.grade(56)).isEqualTo("yellow");
    }
}
