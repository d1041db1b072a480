package dev.keel;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaAccess;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.library.freeze.ViolationLineMatcher;
import io.micronaut.http.annotation.Filter;
import io.micronaut.http.annotation.ServerFilter;

import java.lang.annotation.Annotation;
import java.sql.DriverManager;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static com.tngtech.archunit.base.DescribedPredicate.describe;
import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.belongToAnyOf;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

/**
 * The boundaries of DESIGN.md's "Components" table and CONVENTIONS.md's "Shape", as ArchUnit rules over a package tree
 * rooted at {@code root}: {@code dev.keel} for Keel itself, {@code dev.keel.archfixtures} for the fixtures that break each
 * rule once (so that no rule passes for want of anything to check). Every owner a rule names is a top-level class; its
 * nested classes and the classes Micronaut generates for it ({@code $Name$Definition}, {@code $Name$Introspection}) belong
 * to it.
 */
final class KeelRules {
    private final String root;
    private final Class<? extends Annotation> controller;

    /** Rules for the tree under {@code root}, whose controllers carry {@code controller} (Micronaut's, in Keel). */
    KeelRules(String root, Class<? extends Annotation> controller) {
        this.root = root;
        this.controller = controller;
    }

    /** DESIGN.md: "AWS SDK v2 only in S3ObjectStore". */
    ArchRule awsSdkOnlyInS3ObjectStore() {
        return noClasses().that(not(ownedBy("storage.S3ObjectStore")))
                .should().dependOnClassesThat().resideInAPackage("software.amazon.awssdk..")
                .because("the object store is one boundary (ObjectStore), and only S3ObjectStore talks to the AWS SDK");
    }

    /** The classes that start OS processes: the Postgres tools, the psql/pg_dump clients, the embedded S3 server, the fence guard. */
    ArchRule processesStartedOnlyByTheirOwners() {
        return noClasses().that(not(ownedBy("postgres.Commands", "postgres.ClientProcess", "storage.EmbeddedS3", "replication.FenceGuards")))
                .should().dependOnClassesThat().belongToAnyOf(ProcessBuilder.class)
                .orShould().callMethodWhere(describe("Runtime.exec", (JavaMethodCall call) ->
                        call.getTargetOwner().isEquivalentTo(Runtime.class) && call.getName().equals("exec")))
                .because("a child process is started by the class that owns its arguments, its output and its end");
    }

    /** The classes that end OS processes they own: tools past their timeout, postmasters, PgBouncer, clients, S3Proxy, {@code keel stop}. */
    ArchRule processesEndedOnlyByTheirOwners() {
        return noClasses().that(not(ownedBy("postgres.Commands", "postgres.Postmaster", "postgres.ClientProcess",
                        "pooling.PgBouncerProcess", "storage.EmbeddedS3", "Keel")))
                .should().accessTargetWhere(describe("Process(Handle).destroy or destroyForcibly", (JavaAccess<?> access) ->
                        (access.getTargetOwner().isAssignableTo(Process.class) || access.getTargetOwner().isAssignableTo(ProcessHandle.class))
                                && access.getName().startsWith("destroy")))
                .because("a process is signalled only by the class that knows what it is (a pid can be reused)");
    }

    /** Direct JDBC connections, each for a reason a pool cannot serve. */
    ArchRule driverManagerOnlyWhereConnectionsAreMade() {
        return noClasses().that(not(ownedBy("catalog.EmbeddedCatalog", "catalog.NodeLock", "catalog.CatalogListener", "catalog.CatalogSession", "instances.InstanceConnections",
                        "pooling.PoolerLogins")))
                .should().dependOnClassesThat().belongToAnyOf(DriverManager.class)
                .because("connections to managed servers are opened by InstanceConnections with pinned settings and verified TLS;"
                        + " the catalog's own sessions (a node lock, a LISTEN, the node's catalog contact) by the catalog");
    }

    /** CONVENTIONS.md: "only one class imports org.postgresql.replication". */
    ArchRule replicationApiOnlyInReplicationSession() {
        return noClasses().that(not(ownedBy("postgres.ReplicationSession")))
                .should().dependOnClassesThat().resideInAPackage("org.postgresql.replication..")
                .because("pgjdbc's replication API is wrapped in one class, as Debezium keeps it in its connection package");
    }

    /** pgjdbc beyond java.sql: the session owners, the dataclip runner's parse of one statement, and the catalog's LISTEN. */
    ArchRule pgjdbcApiOnlyInSessionOwners() {
        return noClasses().that(not(ownedBy("postgres.ServerSession", "postgres.ReplicationSession", "pooling.PoolerSql",
                        "lifecycle.UpgradeStreamSql", "dataclips.ClipStatement", "dataclips.ClipQuery", "catalog.CatalogListener")))
                .should().dependOnClassesThat(resideInAPackage("org.postgresql..").and(not(resideInAPackage("org.postgresql.replication.."))))
                .because("SQL sent to managed servers has named owners; everyone else speaks java.sql or calls them (notifications"
                        + " from the catalog come through pgjdbc's own API, in one class)");
    }

    ArchRule bouncyCastleOnlyInTls() {
        return noClasses().that().resideOutsideOfPackage(root + ".tls..")
                .should().dependOnClassesThat().resideInAPackage("org.bouncycastle..")
                .because("certificates are made and read by the installation CA in tls");
    }

    ArchRule flywayOnlyInCatalog() {
        return noClasses().that().resideOutsideOfPackage(root + ".catalog..")
                .should().dependOnClassesThat().resideInAPackage("org.flywaydb..")
                .because("the catalog's schema is migrated in one place");
    }

    ArchRule hikariOnlyInCatalogAndJobs() {
        return noClasses().that(not(resideInAPackage(root + ".catalog..").or(ownedBy("jobs.Jobs"))))
                .should().dependOnClassesThat().resideInAPackage("com.zaxxer.hikari..")
                .because("the catalog makes the one pool; Quartz's JDBC store (jobs.Jobs) borrows it");
    }

    /**
     * A catalog read names its columns (jOOQ's {@code selectFrom} and {@code returning()} do), never {@code table.*}: jOOQ maps
     * the columns it knows by position, so a column that a newer Keel's migration added would shift every later field and keep
     * the older Keel of a rolling upgrade from reading the table.
     */
    ArchRule catalogColumnsReadByName() {
        return noClasses().should().callMethodWhere(describe("jOOQ's asterisk() (a generated table's, or DSL's)", (JavaMethodCall call) ->
                        call.getName().equals("asterisk")))
                .because("two versions of Keel share one catalog during an upgrade, and the older one knows fewer columns");
    }

    /** CONVENTIONS.md "Thin edges": a controller maps HTTP onto a use case; nothing calls a controller. */
    ArchRule controllersAreCalledOnlyByTheFramework() {
        return noClasses().that(not(partOfController())).and(not(generatedByMicronaut()))
                .should().dependOnClassesThat(partOfController())
                .because("a controller is an edge: use cases never call up into one");
    }

    /** Keel's HTTP conventions ({@code http}) are for controllers and request filters, not for use cases. */
    ArchRule httpConventionsOnlyAtTheEdge() {
        return noClasses().that(not(partOfController())).and(not(partOfServerFilter())).and(not(generatedByMicronaut()))
                .and().resideOutsideOfPackage(root + ".http..")
                .should().dependOnClassesThat().resideInAPackage(root + ".http..")
                .because("request parsing stays at the edge; a use case takes values, not requests");
    }

    /** DESIGN.md: lifecycle "sits above restore, replication and archive"; only the edges call it. */
    ArchRule lifecycleCalledOnlyFromEdges() {
        return noClasses().that().resideOutsideOfPackages(root + ".lifecycle..", root + ".herokuapi..", root + ".addons..")
                .should().dependOnClassesThat().resideInAPackage(root + ".lifecycle..")
                .because("lifecycle orchestrates capabilities, so a capability that called it would call itself through it");
    }

    /** The Heroku-facing edges (Platform API subset, Add-on Partner API) are called by nothing but Keel's startup. */
    ArchRule herokuEdgesCalledByNothingBelow() {
        return noClasses().that().resideOutsideOfPackages(root + ".herokuapi..", root + ".addons..").and(not(entryPoint()))
                .should().dependOnClassesThat().resideInAnyPackage(root + ".herokuapi..", root + ".addons..")
                .because("they translate a vendor's API onto Keel's use cases; nothing below them knows Heroku's shapes");
    }

    /** The packages everything stands on (problem types, HTTP conventions, binaries, Postgres itself) import no capability. */
    ArchRule foundationsDoNotReachUp() {
        String[] foundations = {root + ".problems..", root + ".http..", root + ".artifacts..", root + ".postgres.."};
        return noClasses().that().resideInAnyPackage(foundations)
                .should().dependOnClassesThat(underRoot().and(not(resideInAnyPackage(foundations))).or(entryPoint()))
                .because("no upward imports: problems, http, artifacts and postgres are below every capability");
    }

    /** dev.keel's own utilities (Fatal, FileTrees, Ids, KeelHome, ...) stand below every capability; only the entry points wire them. */
    ArchRule rootUtilitiesDoNotReachUp() {
        return noClasses().that().resideInAPackage(root).and(not(entryPoint()))
                .should().dependOnClassesThat(underRoot())
                .because("every capability imports the root utilities, so a root utility that imported a capability would be a cycle");
    }

    /** CONVENTIONS.md: package by capability, with no cycles between capabilities. */
    ArchRule capabilitiesFreeOfCycles() {
        return slices().matching(root + ".(*)..").should().beFreeOfCycles();
    }

    private DescribedPredicate<JavaClass> entryPoint() {
        return ownedBy("Keel", "KeelStartup", "StartupBanner");
    }

    private DescribedPredicate<JavaClass> underRoot() {
        return describe("in a package under " + root, c -> c.getPackageName().startsWith(root + "."));
    }

    private DescribedPredicate<JavaClass> ownedBy(String... relativeNames) {
        List<String> names = Arrays.stream(relativeNames).map(n -> root + "." + n).toList();
        return describe("owned by " + String.join(", ", names), c -> names.contains(owner(c)));
    }

    private DescribedPredicate<JavaClass> partOfController() {
        return describe("part of a @" + controller.getSimpleName(), c -> outermost(c).isAnnotatedWith(controller));
    }

    private static DescribedPredicate<JavaClass> partOfServerFilter() {
        return describe("part of a server filter",
                c -> outermost(c).isAnnotatedWith(ServerFilter.class) || outermost(c).isAnnotatedWith(Filter.class));
    }

    private static DescribedPredicate<JavaClass> generatedByMicronaut() {
        return describe("generated by Micronaut", c -> localName(c).startsWith("$"));
    }

    /** The top-level class a class belongs to: {@code a.B$C} and Micronaut's {@code a.$B$Definition} belong to {@code a.B}. */
    static String owner(JavaClass c) {
        String local = localName(c);
        if (local.startsWith("$")) {
            local = local.substring(1);
        }
        int nested = local.indexOf('$');
        String top = nested < 0 ? local : local.substring(0, nested);
        return c.getPackageName().isEmpty() ? top : c.getPackageName() + "." + top;
    }

    private static String localName(JavaClass c) {
        String prefix = c.getPackageName() + ".";
        return c.getName().startsWith(prefix) ? c.getName().substring(prefix.length()) : c.getName();
    }

    private static JavaClass outermost(JavaClass c) {
        JavaClass outer = c;
        while (outer.getEnclosingClass().isPresent()) {
            outer = outer.getEnclosingClass().get();
        }
        return outer;
    }

    /**
     * Matches a frozen cycle by the slices it runs through, not by the dependencies ArchUnit lists under it: a cycle
     * stays known when a method is added along it, and a cycle through other slices is new. Any other violation
     * matches only itself.
     */
    static final class SameCycle implements ViolationLineMatcher {
        private static final Pattern SLICE = Pattern.compile("Slice (\\S+)");

        @Override
        public boolean matches(String actual, String stored) {
            List<String> cycle = slicesOf(actual);
            return cycle.isEmpty() ? actual.equals(stored) : cycle.equals(slicesOf(stored));
        }

        /** The cycle's slices, rotated to start at the smallest name; empty if the violation is not a cycle. */
        static List<String> slicesOf(String violation) {
            if (!violation.startsWith("Cycle detected:")) {
                return List.of();
            }
            int details = violation.indexOf("Dependencies of");
            Matcher slice = SLICE.matcher(details < 0 ? violation : violation.substring(0, details));
            List<String> path = new ArrayList<>();
            while (slice.find()) {
                path.add(slice.group(1));
            }
            if (path.size() > 1 && path.get(0).equals(path.get(path.size() - 1))) {
                path.remove(path.size() - 1);
            }
            Collections.rotate(path, -path.indexOf(Collections.min(path)));
            return path;
        }
    }

    /** Slices named in a violation report, for assertions. */
    static Set<List<String>> cyclesIn(List<String> violations) {
        return Set.copyOf(violations.stream().map(SameCycle::slicesOf).filter(c -> !c.isEmpty()).toList());
    }
}
