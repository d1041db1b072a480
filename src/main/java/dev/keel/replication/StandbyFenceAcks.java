package dev.keel.replication;

import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

import java.util.UUID;

import static dev.keel.catalog.schema.Tables.NODES;
import static dev.keel.catalog.schema.Tables.STANDBY_FENCE_ACKS;

/**
 * The word of a primary's node, in the catalog ({@code standby_fence_acks}), that its self-fence
 * and its fence guard cover a standby on another node ({@code HaMonitor.selfFence}): given once
 * the guard's watch on disk lists the primary, and withdrawn as the node's Keel starts (until its
 * monitor covers its primaries again), so that while it stands, the node, cut off, kills that
 * primary within T_fence whether its Keel runs or not; only then may the standby's node fail it
 * over from elsewhere ({@code HaMonitor.failOverFromLostNode}), or promote its standby once it
 * is fenced in the catalog but its node fell silent before it was surely stopped
 * ({@code HaMonitor.fencedForSure}, {@code FINISH_PROMOTION}). A node that fell silent before it
 * gave it may not have fenced its primary, which may still take writes: it is not failed over
 * from elsewhere, until the node is back or an operator forgot it (which asks that its servers be
 * stopped or its host cut off first).
 */
@Singleton
final class StandbyFenceAcks {
    private final DSLContext dsl;

    StandbyFenceAcks(DSLContext dsl) {
        this.dsl = dsl;
    }

    /** Records that {@code node}'s self-fence covers {@code primary} with {@code standby} on another node. */
    void acknowledge(UUID standby, UUID primary, String node) {
        dsl.insertInto(STANDBY_FENCE_ACKS).set(STANDBY_FENCE_ACKS.STANDBY_ID, standby).set(STANDBY_FENCE_ACKS.PRIMARY_ID, primary)
                .set(STANDBY_FENCE_ACKS.NODE, node).onConflict(STANDBY_FENCE_ACKS.STANDBY_ID).doUpdate()
                .set(STANDBY_FENCE_ACKS.PRIMARY_ID, primary).set(STANDBY_FENCE_ACKS.NODE, node)
                .set(STANDBY_FENCE_ACKS.ACKNOWLEDGED_AT, DSL.currentOffsetDateTime()).execute();
    }

    /**
     * Whether {@code primaryNode}, the node of {@code primary}, said its self-fence covers it with
     * {@code standby} on another node, or is forgotten (and has not heartbeat since).
     */
    boolean acknowledged(UUID standby, UUID primary, String primaryNode) {
        return dsl.fetchExists(STANDBY_FENCE_ACKS, STANDBY_FENCE_ACKS.STANDBY_ID.eq(standby).and(STANDBY_FENCE_ACKS.PRIMARY_ID.eq(primary)))
                || forgotten(primaryNode);
    }

    private boolean forgotten(String node) {
        return dsl.fetchExists(NODES, NODES.NAME.eq(node).and(NODES.FORGOTTEN_AT.isNotNull()).and(NODES.HEARTBEAT_AT.le(NODES.FORGOTTEN_AT)));
    }

    /** Withdraws every word {@code node} gave: its Keel starts, and its monitor gives them again once it covers its primaries. */
    void withdraw(String node) {
        dsl.deleteFrom(STANDBY_FENCE_ACKS).where(STANDBY_FENCE_ACKS.NODE.eq(node)).execute();
    }
}
