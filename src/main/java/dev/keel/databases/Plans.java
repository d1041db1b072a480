package dev.keel.databases;

import dev.keel.nodes.PlanFootprint;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The plans Keel sells, shaped after Heroku Postgres' Essential, Standard and Premium tiers, and
 * the memory each plan's servers count for in placement (a warm instance: the smallest plan's).
 */
@Singleton
public final class Plans implements PlanFootprint {
    private static final List<Plan> ALL = List.of(
            new Plan("essential-0", "essential", 20, 1, 0, false, false, false, 7),
            new Plan("standard-0", "standard", 120, 64, 4, true, true, false, 25),
            new Plan("premium-0", "premium", 120, 64, 7, true, true, true, 25));

    public List<Plan> all() {
        return ALL;
    }

    public Optional<Plan> find(String name) {
        return ALL.stream().filter(p -> p.name().equals(name)).findFirst();
    }

    @Override
    public long memoryMb(@Nullable String plan) {
        return (plan == null ? Optional.<Plan>empty() : find(plan)).map(Plan::memoryMb)
                .orElse(ALL.stream().mapToLong(Plan::memoryMb).min().orElseThrow());
    }

    /** A hot standby's plan starts two servers, every other one. */
    @Override
    public int servers(String plan) {
        return find(plan).map(p -> p.ha() ? 2 : 1).orElse(1);
    }

    @Override
    public Set<String> withStandby() {
        return ALL.stream().filter(Plan::ha).map(Plan::name).collect(Collectors.toUnmodifiableSet());
    }

    /** The plan named {@code name}; a 422 naming the valid plans otherwise. */
    public Plan require(@Nullable String name) {
        List<String> names = ALL.stream().map(Plan::name).toList();
        if (name == null || name.isBlank()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Say which plan: \"plan\" is one of " + String.join(", ", names) + ".")
                    .with("valid_values", names);
        }
        return find(name).orElseThrow(() -> new KeelException(ProblemType.UNKNOWN_PLAN,
                "There is no plan '" + name + "'; choose one of " + String.join(", ", names) + ".").with("valid_values", names));
    }

    /**
     * Server settings a plan imposes on every instance of its databases: its connections, and
     * temporary files (sorts, hashes) of at most a quarter of its storage per session, which only
     * a superuser could raise, so that no tenant's query fills the disk under every database's WAL.
     */
    public static Map<String, String> serverSettings(Plan plan) {
        return Map.of("max_connections", Integer.toString(plan.connections()),
                "temp_file_limit", tempFileLimitMb(plan) + "MB");
    }

    static long tempFileLimitMb(Plan plan) {
        return plan.storageGb() * 1024L / 4;
    }
}
