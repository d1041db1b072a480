package dev.keel.databases;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PlansTest {
    private final Plans plans = new Plans();

    @Test
    void essentialHasNoRollbackForkFollowOrHa() {
        Plan essential = plans.require("essential-0");
        assertThat(essential.connections()).isEqualTo(20);
        assertThat(essential.storageGb()).isEqualTo(1);
        assertThat(essential.rollbackWindowDays()).isZero();
        assertThat(essential.fork() || essential.follow() || essential.ha()).isFalse();
    }

    @Test
    void standardForksAndFollowsWithAFourDayWindow() {
        Plan standard = plans.require("standard-0");
        assertThat(standard.connections()).isEqualTo(120);
        assertThat(standard.storageGb()).isEqualTo(64);
        assertThat(standard.rollbackWindowDays()).isEqualTo(4);
        assertThat(standard.fork() && standard.follow()).isTrue();
        assertThat(standard.ha()).isFalse();
    }

    @Test
    void premiumAddsHaAndASevenDayWindow() {
        Plan premium = plans.require("premium-0");
        assertThat(premium.ha()).isTrue();
        assertThat(premium.rollbackWindowDays()).isEqualTo(7);
        assertThat(premium.fork() && premium.follow()).isTrue();
    }

    @Test
    void unknownPlanNamesTheValidOnes() {
        assertThatThrownBy(() -> plans.require("gold"))
                .isInstanceOfSatisfying(KeelException.class, e -> {
                    assertThat(e.type()).isEqualTo(ProblemType.UNKNOWN_PLAN);
                    assertThat(e.extensions()).containsEntry("valid_values", List.of("essential-0", "standard-0", "premium-0"));
                })
                .hasMessage("There is no plan 'gold'; choose one of essential-0, standard-0, premium-0.");
    }

    @Test
    void missingPlanIsAnInvalidRequest() {
        assertThatThrownBy(() -> plans.require(null))
                .isInstanceOfSatisfying(KeelException.class, e -> assertThat(e.type()).isEqualTo(ProblemType.INVALID_REQUEST))
                .hasMessage("Say which plan: \"plan\" is one of essential-0, standard-0, premium-0.");
    }

    @Test
    void planConnectionsBecomeMaxConnectionsAndAQuarterOfItsStorageCapsTemporaryFiles() {
        assertThat(Plans.serverSettings(plans.require("essential-0"))).isEqualTo(Map.of("max_connections", "20", "temp_file_limit", "256MB"));
    }
}
