package dev.keel.nodes;

import dev.keel.catalog.CatalogSchema;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Whether a node has room for a new database ({@link Placement#shortage}), case by case: its
 * running servers counted by plan against the memory budget (a warm one at the smallest plan's;
 * none without a budget), a port per new server beyond a warm instance of the major asked for, free
 * disk above the minimum and used disk under the budget as the heartbeat read them, and room when
 * a figure is unknown.
 */
class PlacementRoomTest {
    private static final PlanFootprint MEMORY = new PlanFootprint() {
        @Override
        public long memoryMb(String plan) {
            return plan == null ? 100 : switch (plan) {
                case "small" -> 100;
                case "large" -> 400;
                default -> throw new IllegalArgumentException(plan);
            };
        }

        @Override
        public int servers(String plan) {
            return 1;
        }

        @Override
        public Set<String> withStandby() {
            return Set.of();
        }
    };
    private static final long MIN_FREE_MB = 2048;

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of("an empty node", node(1000, 10, 5000, 100), List.of(), "large", 1, null),
                Arguments.of("memory exactly enough", node(500, 10, 5000, 100), List.of("small"), "large", 1, null),
                Arguments.of("memory one server short", node(499, 10, 5000, 100), List.of("small"), "large", 1, "MEMORY"),
                Arguments.of("no memory budget: memory is not counted", node(0, 10, 5000, 100), List.of("large", "large"), "large", 1, null),
                Arguments.of("two servers (a standby) need twice", node(800, 10, 5000, 100), List.of(), "large", 2, null),
                Arguments.of("two servers over the budget", node(799, 10, 5000, 100), List.of(), "large", 2, "MEMORY"),
                Arguments.of("a warm instance counts as the smallest plan", node(500, 10, 5000, 100), List.of("warm"), "large", 1, null),
                Arguments.of("fenced, stopped and deleting servers do not count", node(500, 10, 5000, 100),
                        List.of("large:fenced", "large:stopped", "large:deleting"), "large", 1, null),
                Arguments.of("a server being made counts", node(500, 10, 5000, 100), List.of("large:creating"), "large", 1, "MEMORY"),
                Arguments.of("no port left", node(1000, 1, 5000, 100), List.of("small"), "small", 1, "PORTS"),
                Arguments.of("a non-running server keeps its port", node(1000, 1, 5000, 100), List.of("small:fenced"), "small", 1, "PORTS"),
                Arguments.of("a warm instance's port serves", node(1000, 1, 5000, 100), List.of("warm"), "small", 1, null),
                Arguments.of("a warm instance of another major does not", node(1000, 1, 5000, 100), List.of("warm:14"), "small", 1, "PORTS"),
                Arguments.of("a warm port serves one of two servers only", node(1000, 1, 5000, 100), List.of("warm"), "small", 2, "PORTS"),
                Arguments.of("free disk under the minimum", node(1000, 10, 2047, 100), List.of(), "small", 1, "DISK_FREE"),
                Arguments.of("disk used up to the budget", node(1000, 10, 5000, 10_000), List.of(), "small", 1, "DISK_BUDGET"),
                Arguments.of("a full disk is short of free space first", node(1000, 10, 0, 10_000), List.of(), "small", 1, "DISK_FREE"),
                Arguments.of("disk figures not read yet", node(1000, 10, null, null), List.of(), "small", 1, null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void aNodeHasRoomOrSaysWhatRunsShort(String what, NodeRepository.Row row, List<String> hostedPlans, String plan, int servers,
                                         String shortage) {
        List<NodeRepository.Hosted> hosted = new ArrayList<>();
        for (String spec : hostedPlans) {
            String[] parts = spec.split(":");
            boolean warm = parts[0].equals("warm");
            String state = warm ? "pooled" : parts.length > 1 ? parts[1] : "running";
            int major = warm && parts.length > 1 ? Integer.parseInt(parts[1]) : 17;
            hosted.add(new NodeRepository.Hosted(UUID.randomUUID(), warm ? null : UUID.randomUUID(), warm ? null : "db", warm ? null : parts[0],
                    warm ? "primary" : "primary", state, major, row.name()));
        }
        Optional<Placement.Shortage> found = Placement.shortage(row, hosted, new Placement.Demand(plan, servers, 17), MEMORY, MIN_FREE_MB);
        assertThat(found.map(s -> s.kind().name()).orElse(null)).as(what + ": " + found).isEqualTo(shortage);
        found.ifPresent(s -> assertThat(s.sentence()).isNotBlank());
    }

    /**
     * Where the hot standbys owed count ({@link Placement#withOwedStandbys}), oldest first: on the
     * least busy node other than the primary's with room for one, else beside the primary, as the
     * HA monitor would build it; each counted before the next is placed.
     */
    static Stream<Arguments> owed() {
        return Stream.of(
                Arguments.of("another node with room takes it", List.of(node("a", 1000), node("b", 1000)), List.of("a"), List.of("b")),
                Arguments.of("the least busy other node", List.of(node("a", 1000), node("b", 1000), node("c", 1000)), List.of("a", "b:not-owed"),
                        List.of("c")),
                Arguments.of("beside its primary when no other node has room", List.of(node("a", 1000), node("b", 300)), List.of("a"),
                        List.of("a")),
                Arguments.of("beside its primary on the only node", List.of(node("a", 1000)), List.of("a"), List.of("a")),
                Arguments.of("the first owed takes the last room, the next goes beside its primary",
                        List.of(node("a", 400), node("b", 1000), node("c", 400)), List.of("a", "b"), List.of("c", "b")),
                Arguments.of("beside its primary on a node no longer active, when no active one has room", List.of(node("b", 300)),
                        List.of("a"), List.of("a")),
                Arguments.of("a node without a budget always has room", List.of(node("a", 1000), node("b", 0)), List.of("a", "a"),
                        List.of("b", "b")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("owed")
    void aStandbyOwedCountsWhereTheMonitorWouldBuildIt(String what, List<NodeRepository.Row> nodes, List<String> primaries,
                                                      List<String> expected) {
        Map<String, List<NodeRepository.Hosted>> hosted = new TreeMap<>();
        List<NodeRepository.Owed> owed = new ArrayList<>();
        for (String spec : primaries) {
            String[] parts = spec.split(":");
            UUID database = UUID.randomUUID();
            hosted.computeIfAbsent(parts[0], n -> new ArrayList<>()).add(new NodeRepository.Hosted(UUID.randomUUID(), database, "db",
                    "large", "primary", "running", 17, parts[0]));
            if (parts.length > 1) {
                continue; // a primary whose database is owed nothing: it only makes its node busier
            }
            owed.add(new NodeRepository.Owed(database, "large", parts[0]));
        }
        Map<String, List<NodeRepository.Hosted>> with = Placement.withOwedStandbys(nodes, hosted, owed, MEMORY, MIN_FREE_MB);
        List<String> placed = owed.stream().map(o -> with.entrySet().stream()
                .filter(e -> e.getValue().stream().anyMatch(h -> h.databaseId().equals(o.databaseId()) && h.role().equals("standby")))
                .map(Map.Entry::getKey).findFirst().orElse(null)).toList();
        assertThat(placed).as(what).isEqualTo(expected);
        assertThat(hosted.values().stream().mapToInt(List::size).sum()).as("the map given is left as it was").isEqualTo(primaries.size());
    }

    /** Node {@code name}, with a memory budget (0: none) and room otherwise. */
    private static NodeRepository.Row node(String name, long memoryBudgetMb) {
        OffsetDateTime now = OffsetDateTime.now();
        return new NodeRepository.Row(name, null, "1", false, now, now, false, null, 20000, 20099, memoryBudgetMb, 10_000, 5000L, 100L, null, CatalogSchema.BEFORE_RECORDED, now);
    }

    /** A node with a memory budget, this many ports, and its disk as last read (null: not read); its disk budget is 10,000 MB. */
    private static NodeRepository.Row node(long memoryBudgetMb, int ports, Integer diskFreeMb, Integer diskUsedMb) {
        OffsetDateTime now = OffsetDateTime.now();
        return new NodeRepository.Row("n1", null, "1", false, now, now, false, null, 20000, 20000 + ports - 1, memoryBudgetMb, 10_000,
                diskFreeMb == null ? null : diskFreeMb.longValue(), diskUsedMb == null ? null : diskUsedMb.longValue(), null,
                CatalogSchema.BEFORE_RECORDED, now);
    }
}
