package dev.keel;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.EvaluationResult;
import com.tngtech.archunit.library.freeze.FreezingArchRule;
import com.tngtech.archunit.library.freeze.ViolationStore;
import dev.keel.archfixtures.http.FixtureController;
import io.micronaut.http.annotation.Controller;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The layering CONVENTIONS.md asks ArchUnit to hold (see {@link KeelRules} for each rule and its reason). Every test
 * checks a rule against Keel's classes and then against {@code dev.keel.archfixtures}, where the rule must report the
 * fixture written to break it, so that no rule passes for want of anything to check.
 *
 * <p>Two rules are frozen in {@code src/test/resources/archunit_store}, which holds no violations now (the cycle
 * {@code catalog -> credentials -> catalog} ended when {@code RandomStrings} moved beside {@code Ids}; {@code archive.WalStream}
 * reads WAL through {@code postgres.ReplicationSession.PhysicalStream}). A new violation of either fails; should one ever be
 * frozen again as known debt, list it here, and commit the store change when it is fixed (it leaves the store as this test runs).
 */
class ArchitectureTest {
    private static final JavaClasses KEEL = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.keel");
    private static final JavaClasses FIXTURES = new ClassFileImporter().importPackages("dev.keel.archfixtures");
    private static final KeelRules RULES = new KeelRules("dev.keel", Controller.class);
    private static final KeelRules FIXTURE_RULES = new KeelRules("dev.keel.archfixtures", FixtureController.class);
    private static final String LEAKS = "dev.keel.archfixtures.archive.LeaksVendors";

    @Test
    void onlyS3ObjectStoreUsesTheAwsSdk() {
        holds(KeelRules::awsSdkOnlyInS3ObjectStore, LEAKS + ".s3()");
        assertThat(report(FIXTURE_RULES.awsSdkOnlyInS3ObjectStore())).doesNotContain("archfixtures.storage.S3ObjectStore");
    }

    @Test
    void onlyTheProcessOwnersStartProcesses() {
        holds(KeelRules::processesStartedOnlyByTheirOwners, LEAKS + ".start()", LEAKS + ".exec()> calls method <java.lang.Runtime.exec");
    }

    @Test
    void onlyTheProcessOwnersEndProcesses() {
        holds(KeelRules::processesEndedOnlyByTheirOwners, LEAKS + ".kill(long)");
    }

    @Test
    void onlyTheConnectionMakersUseDriverManager() {
        holds(KeelRules::driverManagerOnlyWhereConnectionsAreMade, LEAKS + ".connect()");
    }

    @Test
    void onlyReplicationSessionUsesPgjdbcReplicationApi() {
        FreezingArchRule.freeze(RULES.replicationApiOnlyInReplicationSession()).check(KEEL);
        assertThat(report(FIXTURE_RULES.replicationApiOnlyInReplicationSession())).contains(LEAKS + ".stream(");
    }

    @Test
    void onlyTheSessionOwnersUsePgjdbcApi() {
        holds(KeelRules::pgjdbcApiOnlyInSessionOwners, LEAKS + ".unwrap(");
    }

    @Test
    void onlyTlsUsesBouncyCastle() {
        holds(KeelRules::bouncyCastleOnlyInTls, LEAKS + ".subject()");
    }

    @Test
    void onlyTheCatalogUsesFlyway() {
        holds(KeelRules::flywayOnlyInCatalog, LEAKS + ".flyway()");
    }

    @Test
    void onlyTheCatalogAndJobsUseHikari() {
        holds(KeelRules::hikariOnlyInCatalogAndJobs, LEAKS + ".pool()");
    }

    @Test
    void catalogReadsNameTheirColumns() {
        holds(KeelRules::catalogColumnsReadByName, "dev.keel.archfixtures.catalog.ReadsByPosition.all(org.jooq.DSLContext)> calls method <org.jooq.Table.asterisk()>");
    }

    @Test
    void nothingButTheFrameworkCallsAController() {
        holds(KeelRules::controllersAreCalledOnlyByTheFramework, "dev.keel.archfixtures.apps.Apps.show(");
    }

    @Test
    void onlyControllersAndFiltersUseHttpConventions() {
        holds(KeelRules::httpConventionsOnlyAtTheEdge, "dev.keel.archfixtures.apps.Apps.show(dev.keel.archfixtures.apps.AppsController)>"
                + " calls method <dev.keel.archfixtures.http.JsonBody.read()>");
        assertThat(report(FIXTURE_RULES.httpConventionsOnlyAtTheEdge())).doesNotContain("AppsController.show()");
    }

    @Test
    void onlyTheEdgesCallLifecycle() {
        holds(KeelRules::lifecycleCalledOnlyFromEdges, "CallsUp.run(", "lifecycle.Orchestration.run()");
    }

    @Test
    void nothingBelowCallsTheHerokuEdges() {
        holds(KeelRules::herokuEdgesCalledByNothingBelow, "CallsUp.run(", "herokuapi.Edge.serve()");
    }

    @Test
    void foundationsImportNoCapability() {
        holds(KeelRules::foundationsDoNotReachUp, "dev.keel.archfixtures.postgres.ReachesUp.thing()");
    }

    @Test
    void rootUtilitiesImportNoCapability() {
        holds(KeelRules::rootUtilitiesDoNotReachUp, "dev.keel.archfixtures.RootUtility.thing()");
    }

    @Test
    void capabilitiesHaveNoCycles() {
        FreezingArchRule.freeze(RULES.capabilitiesFreeOfCycles()).associateViolationLinesVia(new KeelRules.SameCycle()).check(KEEL);
        List<String> cycles = FIXTURE_RULES.capabilitiesFreeOfCycles().evaluate(FIXTURES).getFailureReport().getDetails();
        assertThat(KeelRules.cyclesIn(cycles)).containsExactlyInAnyOrder(List.of("catalog", "credentials"), List.of("replication", "restore"));
    }

    /** A frozen cycle stays known when its dependencies change; a cycle through other packages still fails. */
    @Test
    void aFrozenCycleDoesNotHideANewOne() {
        ArchRule rule = FIXTURE_RULES.capabilitiesFreeOfCycles();
        String frozen = rule.evaluate(FIXTURES).getFailureReport().getDetails().stream()
                .filter(v -> KeelRules.SameCycle.slicesOf(v).equals(List.of("catalog", "credentials"))).findFirst().orElseThrow();
        String frozenEarlier = frozen.substring(0, frozen.indexOf("Dependencies of")) + "Dependencies of Slice catalog\n"
                + "    - Method <dev.keel.archfixtures.catalog.Catalog.old()> calls method <...> in (Catalog.java:1)";
        MemoryStore store = new MemoryStore();
        store.save(rule, List.of(frozenEarlier));

        EvaluationResult result = FreezingArchRule.freeze(rule).persistIn(store).associateViolationLinesVia(new KeelRules.SameCycle())
                .evaluate(FIXTURES);

        assertThat(KeelRules.cyclesIn(result.getFailureReport().getDetails())).containsExactly(List.of("replication", "restore"));
        assertThat(store.getViolations(rule)).containsExactly(frozenEarlier);
    }

    @Test
    void aCycleIsTheSameWhicheverSliceItIsReportedFrom() {
        assertThat(KeelRules.SameCycle.slicesOf("Cycle detected: Slice credentials -> \n    Slice catalog -> \n    Slice credentials\n"
                + "  1. Dependencies of Slice credentials\n    - x"))
                .isEqualTo(KeelRules.SameCycle.slicesOf("Cycle detected: Slice catalog -> \n    Slice credentials -> \n    Slice catalog"));
        assertThat(new KeelRules.SameCycle().matches("Method <a.B.c()> calls <d>", "Method <a.B.c()> calls <e>")).isFalse();
    }

    /** Checks the rule on Keel, then that it reports each expected fragment among the fixtures' violations. */
    private static void holds(Function<KeelRules, ArchRule> rule, String... expectedInFixtureViolations) {
        rule.apply(RULES).check(KEEL);
        String report = report(rule.apply(FIXTURE_RULES));
        for (String expected : expectedInFixtureViolations) {
            assertThat(report).contains(expected);
        }
    }

    private static String report(ArchRule rule) {
        EvaluationResult result = rule.evaluate(FIXTURES);
        assertThat(result.hasViolation()).as("the fixtures break '%s'", rule.getDescription()).isTrue();
        return String.join("\n", result.getFailureReport().getDetails());
    }

    /** A store in memory, so that freezing can be shown without touching the committed one. */
    private static final class MemoryStore implements ViolationStore {
        private final Map<String, List<String>> violations = new HashMap<>();

        @Override
        public void initialize(Properties properties) {
        }

        @Override
        public boolean contains(ArchRule rule) {
            return violations.containsKey(rule.getDescription());
        }

        @Override
        public void save(ArchRule rule, List<String> ruleViolations) {
            violations.put(rule.getDescription(), new ArrayList<>(ruleViolations));
        }

        @Override
        public List<String> getViolations(ArchRule rule) {
            return violations.getOrDefault(rule.getDescription(), List.of());
        }
    }
}
