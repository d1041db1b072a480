package dev.keel.replication;

import dev.keel.postgres.Lsn;
import dev.keel.postgres.WalSegmentName;
import io.micronaut.core.annotation.Nullable;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import java.util.UUID;

/**
 * What the {@link HaMonitor} decided about a database at one check, and why, in a sentence that
 * is logged, shown on the operation it starts and in the HA status ("failing over because the
 * primary missed 3 checks and the standby is 0 bytes behind").
 */
record HaDecision(Kind kind, String sentence, @Nullable String moveTo) {
    /** Longest sentence kept: it goes into an operation's step, with room for "failed over: " before it. */
    private static final int LONGEST = 900;

    HaDecision {
        sentence = sentence.length() <= LONGEST ? sentence : sentence.substring(0, LONGEST - 3) + "...";
    }

    /** A decision that moves no standby ({@code moveTo} names the node a {@code REPLACE_STANDBY} moves it to, if it moves it). */
    HaDecision(Kind kind, String sentence) {
        this(kind, sentence, null);
    }

    /**
     * What one round of the monitor saw of a database whose primary node {@code thisNode} hosts. {@code failure} is null when
     * the primary answered, else why not; then {@code inRecovery}, {@code standbySlotStatus} and {@code standbyState} are what it
     * answered and {@code notStreamingSince} since when its standby has not streamed. {@code postmasterRunning} and
     * {@code intact} say whether its postmaster runs and its data directory is sound. {@code standbyNode} is the node of its
     * running standby, null when it has none.
     */
    record Observation(UUID primary, String primaryNode, String thisNode, @Nullable String standbyNode, boolean intact,
                       @Nullable String failure, boolean inRecovery, boolean postmasterRunning, @Nullable String standbySlotStatus,
                       @Nullable String standbyState, @Nullable Instant notStreamingSince, Instant now) {
        boolean answered() {
            return failure == null;
        }
    }

    /**
     * What a decision reads beyond the round's observation, only once it comes to need it: each costs a catalog read, a
     * transaction under the placement lock or a probe of the standby, which a round that decides without it must not pay.
     */
    interface Lookups {
        /** Whether node {@code name} is silent past the time a node takes to be lost. */
        boolean silent(String name);

        /** A node with room to move a standby that runs beside its primary to, if one is found now. */
        Optional<String> nodeApart();

        /** What the standby has received, read now. */
        StandbyPosition standbyPosition();
    }

    /** Whether the standby answered, and what it has received (null: nothing yet, or it did not answer). */
    record StandbyPosition(boolean answered, @Nullable Lsn received) {
        static final StandbyPosition NOT_ANSWERING = new StandbyPosition(false, null);
    }

    /** What the monitor kept from the rounds before: checks missed in a row, restarts in place in a row, the primary's last position. */
    record History(int missed, int restarts, @Nullable Lsn lastLsn) {
    }

    /**
     * The bounds: checks missed before a failover, restarts in place before the primary counts as missing, how far behind the
     * standby may be to be failed over to, and how long a node is silent before it is lost.
     */
    record Limits(int misses, int restartsInARow, long maxLagBytes, Duration lostAfter) {
    }

    /**
     * The decision on one round: a primary in recovery is promoted; one that answers is healthy, unless its standby must be
     * replaced (its slot lost, or its node lost while it has not streamed for as long as that takes) or moved off the primary's
     * node (beside it while it streams, and a node apart has room); a postmaster gone with its data directory intact is started
     * again in place, a few times in a row at most; otherwise the check counts as missed, and after {@code limits.misses()} of
     * them in a row the primary is failed over, or not, by {@link #failOverOrRefuse}. Pure but for {@code lookups}, each read
     * only in the rule that needs it, in that order.
     */
    static HaDecision decide(Observation seen, History history, Limits limits, Lookups lookups) {
        String standbyNode = seen.standbyNode();
        if (seen.answered()) {
            if (seen.inRecovery()) {
                return new HaDecision(Kind.FINISH_PROMOTION, "promoting instance " + seen.primary() + ": it is the primary"
                        + " in the catalog but still in recovery");
            }
            if (standbyNode != null && "lost".equals(seen.standbySlotStatus())) {
                return new HaDecision(Kind.REPLACE_STANDBY, "replacing the standby: its slot on the primary was invalidated"
                        + " (wal_status lost): the primary removed WAL the standby had not received, so it can never stream again;"
                        + " a new standby is built from the newest base backup");
            }
            Instant notStreamingSince = seen.notStreamingSince();
            if (standbyNode != null && !standbyNode.equals(seen.thisNode()) && notStreamingSince != null
                    && notStreamingSince.isBefore(seen.now().minus(limits.lostAfter())) && lookups.silent(standbyNode)) {
                return new HaDecision(Kind.REPLACE_STANDBY, "replacing the standby: its node " + standbyNode + " is lost"
                        + " and the standby has not streamed since " + notStreamingSince.truncatedTo(ChronoUnit.SECONDS)
                        + "; a new standby is built on another node from the newest base backup, and node " + standbyNode
                        + " removes the old one when it returns");
            }
            if (standbyNode != null && standbyNode.equals(seen.primaryNode()) && "streaming".equals(seen.standbyState())) {
                Optional<String> apart = lookups.nodeApart();
                if (apart.isPresent()) {
                    return new HaDecision(Kind.REPLACE_STANDBY, "moving the standby to node " + apart.get() + ": it runs"
                            + " beside its primary on node " + seen.primaryNode() + ", where losing the host would lose both; a new"
                            + " standby is built on node " + apart.get() + " from the newest base backup", apart.get());
                }
            }
            return new HaDecision(Kind.HEALTHY, "the primary answered");
        }
        // A primary that will not stay up is not restarted without end: after a few restarts it counts as missing.
        if (!seen.postmasterRunning() && seen.intact() && history.restarts() < limits.restartsInARow()) {
            return new HaDecision(Kind.RESTART_IN_PLACE, "restarting the primary in place: its postmaster is gone and its data"
                    + " directory is intact");
        }
        int missed = history.missed() + 1;
        String why = " (" + seen.failure() + ")";
        if (missed < limits.misses()) {
            return new HaDecision(Kind.WATCHING, "the primary missed " + missed + " of " + limits.misses() + " checks" + why);
        }
        return failOverOrRefuse(standbyNode != null, true, history.lastLsn(), lookups, limits.maxLagBytes(),
                "the primary missed " + missed + " checks", why);
    }

    /**
     * The decision on a primary that stopped answering ({@code missed} says how, {@code why} what was seen): fail over to the
     * standby when there is one, the primary is surely fenced should its node be cut off ({@code fencedThere}: its node said its
     * self-fence covers this standby, {@link StandbyFenceAcks}; always so when that node decides itself), and the standby has
     * received to within {@code maxLagBytes} of {@code lastLsn}, where the primary was last seen (its position read through
     * {@code lookups} only then); else refuse, saying why.
     */
    static HaDecision failOverOrRefuse(boolean standby, boolean fencedThere, @Nullable Lsn lastLsn, Lookups lookups, long maxLagBytes,
                                       String missed, String why) {
        if (!standby) {
            return new HaDecision(Kind.REFUSE, "not failing over although " + missed + ": there is no standby ready" + why);
        }
        if (!fencedThere) {
            return new HaDecision(Kind.REFUSE, "not failing over although " + missed + ": the primary's node had not yet said that its"
                    + " self-fence covers this standby when it fell silent, so the primary may not be fenced and may still take writes;"
                    + " Keel decides once that node is back, or an operator forgot it (POST /v1/nodes/<name>/forget, once its servers are"
                    + " stopped or its host cut off)" + why);
        }
        if (lastLsn == null) {
            return new HaDecision(Kind.REFUSE, "not failing over although " + missed + ": Keel has not seen the primary answer"
                    + " since it started, so it cannot tell how far behind the standby is" + why);
        }
        StandbyPosition position = lookups.standbyPosition();
        if (!position.answered()) {
            return new HaDecision(Kind.REFUSE, "not failing over although " + missed + ": the standby does not answer either" + why);
        }
        long behind = position.received() == null ? lastLsn.value() : Math.max(0, lastLsn.bytesSince(position.received()));
        if (behind > maxLagBytes) {
            return new HaDecision(Kind.REFUSE, "not failing over although " + missed + ": the standby is " + behind
                    + " bytes behind, more than the bound of " + maxLagBytes / WalSegmentName.SEGMENT_BYTES + " WAL segments ("
                    + maxLagBytes + " bytes)" + why);
        }
        return new HaDecision(Kind.FAIL_OVER, "failing over because " + missed + " and the standby is " + behind + " bytes behind" + why);
    }

    enum Kind {
        /** The primary answered. */
        HEALTHY,
        /** The primary missed a check, not yet enough of them. */
        WATCHING,
        /** The postmaster is gone but its data directory is sound: start it again where it is. */
        RESTART_IN_PLACE,
        /** A failover that Keel stopped during left the new primary in recovery: promote it. */
        FINISH_PROMOTION,
        /** The primary is gone or hangs and the standby is close enough behind. */
        FAIL_OVER,
        /** The primary is gone or hangs, yet failing over would lose too much or has nothing to go to. */
        REFUSE,
        /**
         * The primary answered, but its standby can never catch up (the primary removed WAL it had not
         * received: its slot is lost), or is gone with its host (its node is lost and it has not
         * streamed since): build another.
         */
        REPLACE_STANDBY
    }

    @Override
    public String toString() {
        return kind + ": " + sentence;
    }
}
