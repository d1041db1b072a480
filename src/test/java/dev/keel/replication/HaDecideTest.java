package dev.keel.replication;

import dev.keel.postgres.Lsn;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The HA monitor's decision on one round, as a table (Patroni's {@code tests/test_ha.py} and
 * CloudNativePG's {@code replicas_test.go} are the models): what was seen of the primary and its
 * standby, what earlier rounds left, what the decision may look up, and the decision, with the
 * words that say why and the lookups it made (each costs a catalog read or a probe, and is made
 * only by the rule that needs it).
 */
class HaDecideTest {
    private static final UUID PRIMARY = UUID.fromString("00000000-0000-0000-0000-00000000000a");
    private static final Instant NOW = Instant.parse("2026-12-07T05:00:00Z");
    private static final long SEGMENT = 16L * 1024 * 1024;
    private static final HaDecision.Limits LIMITS = new HaDecision.Limits(3, 3, 10 * SEGMENT, Duration.ofSeconds(15));
    private static final Lsn LAST = new Lsn(100 * SEGMENT);
    private static final HaDecision.History FRESH = new HaDecision.History(0, 0, LAST);
    private static final HaDecision.History TWO_MISSED = new HaDecision.History(2, 0, LAST);
    private static final String TIMEOUT = "it does not answer: timeout";

    static Stream<Arguments> rounds() {
        return Stream.of(
                row("a primary that answers is healthy", answered().build(), FRESH, Looks.none(),
                        HaDecision.Kind.HEALTHY, "the primary answered"),
                row("an answer clears earlier misses", answered().build(), TWO_MISSED, Looks.none(),
                        HaDecision.Kind.HEALTHY, "the primary answered"),
                row("a primary that answers but is in recovery is promoted", answered().inRecovery().slot("lost").build(), FRESH,
                        Looks.none(), HaDecision.Kind.FINISH_PROMOTION, "promoting instance " + PRIMARY + ": it is the primary in the"
                                + " catalog but still in recovery"),
                row("a lost slot replaces the standby", answered().slot("lost").build(), FRESH, Looks.none(),
                        HaDecision.Kind.REPLACE_STANDBY, "its slot on the primary was invalidated (wal_status lost)"),
                row("a lost slot and no standby: nothing to replace", answered().slot("lost").standbyOn(null).build(), FRESH, Looks.none(),
                        HaDecision.Kind.HEALTHY, "the primary answered"),
                row("a standby whose node is lost and which has not streamed for longer than that takes is replaced",
                        answered().notStreamingFor(16).build(), FRESH, Looks.none().withSilent("node-b"),
                        HaDecision.Kind.REPLACE_STANDBY, "its node node-b is lost and the standby has not streamed since"
                                + " 2026-12-07T04:59:44Z", "silent node-b"),
                row("a standby that has not streamed as long, but whose node is not lost, is kept",
                        answered().notStreamingFor(16).build(), FRESH, Looks.none(),
                        HaDecision.Kind.HEALTHY, "the primary answered", "silent node-b"),
                row("a standby of a lost node that streamed within the time a node takes to be lost is kept: the node is not read",
                        answered().notStreamingFor(15).build(), FRESH, Looks.none().withSilent("node-b"),
                        HaDecision.Kind.HEALTHY, "the primary answered"),
                row("a lost slot comes before a lost node", answered().slot("lost").notStreamingFor(16).build(), FRESH,
                        Looks.none().withSilent("node-b"), HaDecision.Kind.REPLACE_STANDBY, "its slot on the primary was invalidated"),
                row("a standby beside its primary, streaming, is moved to a node apart with room",
                        answered().standbyOn("node-a").build(), FRESH, Looks.none().withApart("node-c"),
                        HaDecision.Kind.REPLACE_STANDBY, "moving the standby to node node-c: it runs beside its primary on node node-a",
                        "apart"),
                row("a standby beside its primary stays when no node apart has room", answered().standbyOn("node-a").build(), FRESH,
                        Looks.none(), HaDecision.Kind.HEALTHY, "the primary answered", "apart"),
                row("a standby beside its primary that does not stream is not moved: nothing is looked for",
                        answered().standbyOn("node-a").standbyState("startup").build(), FRESH, Looks.none().withApart("node-c"),
                        HaDecision.Kind.HEALTHY, "the primary answered"),
                row("a standby on another node is not moved", answered().build(), FRESH, Looks.none().withApart("node-c"),
                        HaDecision.Kind.HEALTHY, "the primary answered"),
                row("a lost slot comes before a move", answered().standbyOn("node-a").slot("lost").build(), FRESH,
                        Looks.none().withApart("node-c"), HaDecision.Kind.REPLACE_STANDBY, "its slot on the primary was invalidated"),
                row("a postmaster gone with its data directory intact is started again in place", silent().postmasterGone().build(),
                        FRESH, Looks.none(), HaDecision.Kind.RESTART_IN_PLACE, "its postmaster is gone and its data directory is intact"),
                row("a restart in place comes before a failover, after misses", silent().postmasterGone().build(), TWO_MISSED,
                        Looks.standbyAt(LAST), HaDecision.Kind.RESTART_IN_PLACE, "restarting the primary in place"),
                row("the third restart in a row is still made", silent().postmasterGone().build(), new HaDecision.History(0, 2, LAST),
                        Looks.none(), HaDecision.Kind.RESTART_IN_PLACE, "restarting the primary in place"),
                row("after three restarts in a row it counts as a miss", silent().postmasterGone().build(),
                        new HaDecision.History(0, 3, LAST), Looks.none(),
                        HaDecision.Kind.WATCHING, "the primary missed 1 of 3 checks (" + TIMEOUT + ")"),
                row("a postmaster gone with its data directory is not started again", silent().postmasterGone().dataGone().build(),
                        FRESH, Looks.none(), HaDecision.Kind.WATCHING, "the primary missed 1 of 3 checks (its data directory is gone"),
                row("a hang is a miss, and the standby is not read before the last one", silent().build(),
                        new HaDecision.History(1, 0, LAST), Looks.standbyAt(LAST),
                        HaDecision.Kind.WATCHING, "the primary missed 2 of 3 checks (" + TIMEOUT + ")"),
                row("the third miss fails over to a standby that has all of it", silent().build(), TWO_MISSED, Looks.standbyAt(LAST),
                        HaDecision.Kind.FAIL_OVER, "failing over because the primary missed 3 checks and the standby is 0 bytes behind"
                                + " (" + TIMEOUT + ")", "standby"),
                row("a standby ahead of the primary's last position seen is 0 bytes behind", silent().build(), TWO_MISSED,
                        Looks.standbyAt(new Lsn(LAST.value() + 4096)), HaDecision.Kind.FAIL_OVER, "the standby is 0 bytes behind",
                        "standby"),
                row("a standby exactly at the bound is failed over to", silent().build(), TWO_MISSED,
                        Looks.standbyAt(new Lsn(LAST.value() - 10 * SEGMENT)),
                        HaDecision.Kind.FAIL_OVER, "the standby is " + 10 * SEGMENT + " bytes behind", "standby"),
                row("a standby a byte past the bound is not", silent().build(), TWO_MISSED,
                        Looks.standbyAt(new Lsn(LAST.value() - 10 * SEGMENT - 1)),
                        HaDecision.Kind.REFUSE, "the standby is " + (10 * SEGMENT + 1) + " bytes behind, more than the bound of 10 WAL"
                                + " segments (" + 10 * SEGMENT + " bytes)", "standby"),
                row("a standby that has received nothing is as far behind as the primary's position", silent().build(), TWO_MISSED,
                        Looks.standbyAt(null), HaDecision.Kind.REFUSE, "the standby is " + LAST.value() + " bytes behind", "standby"),
                row("a standby that does not answer either is not failed over to", silent().build(), TWO_MISSED, Looks.none(),
                        HaDecision.Kind.REFUSE, "not failing over although the primary missed 3 checks: the standby does not answer"
                                + " either", "standby"),
                row("no standby: nothing to fail over to", silent().standbyOn(null).build(), TWO_MISSED, Looks.standbyAt(LAST),
                        HaDecision.Kind.REFUSE, "there is no standby ready (" + TIMEOUT + ")"),
                row("a primary never seen answering: how far behind the standby is cannot be told, and it is not read", silent().build(),
                        new HaDecision.History(2, 0, null), Looks.standbyAt(LAST),
                        HaDecision.Kind.REFUSE, "Keel has not seen the primary answer since it started"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rounds")
    void decides(String round, HaDecision.Observation seen, HaDecision.History history, Looks looks, HaDecision.Kind kind, String says,
                 List<String> read) {
        HaDecision decision = HaDecision.decide(seen, history, LIMITS, looks);
        assertThat(decision.kind()).as(decision.sentence()).isEqualTo(kind);
        assertThat(decision.sentence()).contains(says);
        assertThat(decision.moveTo()).as("only a move names a node").isEqualTo(decision.sentence().startsWith("moving") ? "node-c" : null);
        assertThat(looks.made).as("the lookups made").isEqualTo(read);
    }

    private static Arguments row(String round, HaDecision.Observation seen, HaDecision.History history, Looks looks, HaDecision.Kind kind,
                                 String says, String... read) {
        return Arguments.of(round, seen, history, looks, kind, says, List.of(read));
    }

    /** A primary on node-a, watched from node-a, that answered, with a streaming standby on node-b. */
    private static Seen answered() {
        return new Seen(null);
    }

    /** The same primary, which did not answer ({@link #TIMEOUT}), its postmaster running. */
    private static Seen silent() {
        return new Seen(TIMEOUT);
    }

    /** An observation, built one difference at a time. */
    private static final class Seen {
        private String failure;
        private String standbyNode = "node-b";
        private boolean intact = true;
        private boolean inRecovery;
        private boolean postmasterRunning = true;
        private String slot = "reserved";
        private String standbyState = "streaming";
        private Instant notStreamingSince;

        Seen(String failure) {
            this.failure = failure;
        }

        Seen standbyOn(String node) {
            standbyNode = node;
            return this;
        }

        Seen inRecovery() {
            inRecovery = true;
            return this;
        }

        Seen slot(String status) {
            slot = status;
            return this;
        }

        Seen standbyState(String state) {
            standbyState = state;
            return this;
        }

        Seen notStreamingFor(long seconds) {
            notStreamingSince = NOW.minusSeconds(seconds);
            return this;
        }

        Seen postmasterGone() {
            postmasterRunning = false;
            return this;
        }

        Seen dataGone() {
            intact = false;
            failure = "its data directory is gone or damaged";
            return this;
        }

        HaDecision.Observation build() {
            boolean answered = failure == null;
            return new HaDecision.Observation(PRIMARY, "node-a", "node-a", standbyNode, intact, failure, answered && inRecovery,
                    postmasterRunning, answered ? slot : null, answered ? standbyState : null, notStreamingSince, NOW);
        }
    }

    @Test
    void aPrimaryWhoseNodeNeverSaidItsSelfFenceCoversTheStandbyIsNotFailedOverFromElsewhere() {
        String missed = "node node-a, which hosts the primary, has been silent for 9000 ms";
        HaDecision refused = HaDecision.failOverOrRefuse(true, false, LAST, Looks.standbyAt(LAST), 10 * SEGMENT, missed, " (cut)");
        assertThat(refused.kind()).isEqualTo(HaDecision.Kind.REFUSE);
        assertThat(refused.sentence()).startsWith("not failing over although " + missed + ": the primary's node had not yet said that its"
                + " self-fence covers this standby").endsWith(" (cut)");
        assertThat(HaDecision.failOverOrRefuse(true, true, LAST, Looks.standbyAt(LAST), 10 * SEGMENT, missed, " (cut)").kind())
                .as("once it said so").isEqualTo(HaDecision.Kind.FAIL_OVER);
    }

    /** What the decision may look up, and the lookups it made, in order. */
    static final class Looks implements HaDecision.Lookups {
        private final Set<String> silentNodes;
        private final String apartNode;
        private final HaDecision.StandbyPosition position;
        final List<String> made = new ArrayList<>();

        private Looks(Set<String> silentNodes, String apartNode, HaDecision.StandbyPosition position) {
            this.silentNodes = silentNodes;
            this.apartNode = apartNode;
            this.position = position;
        }

        /** No node silent, none apart with room, a standby that does not answer. */
        static Looks none() {
            return new Looks(Set.of(), null, HaDecision.StandbyPosition.NOT_ANSWERING);
        }

        static Looks standbyAt(Lsn received) {
            return new Looks(Set.of(), null, new HaDecision.StandbyPosition(true, received));
        }

        Looks withSilent(String node) {
            return new Looks(Set.of(node), apartNode, position);
        }

        Looks withApart(String node) {
            return new Looks(silentNodes, node, position);
        }

        @Override
        public boolean silent(String name) {
            made.add("silent " + name);
            return silentNodes.contains(name);
        }

        @Override
        public Optional<String> nodeApart() {
            made.add("apart");
            return Optional.ofNullable(apartNode);
        }

        @Override
        public HaDecision.StandbyPosition standbyPosition() {
            made.add("standby");
            return position;
        }

        @Override
        public String toString() {
            return "silent " + silentNodes + ", apart " + apartNode + ", standby " + position;
        }
    }
}
