package dev.keel.replication;

import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

import java.util.UUID;

import static dev.keel.catalog.schema.Tables.STANDBY_FENCE_ACKS;

/**
 * The word of a primary's node, in the catalog ({@code standby_fence_acks}), that its self-fence
 * and its fence guard cover a standby on another node ({@code HaMonitor.selfFence}): from then on,
 * cut off, it kills that primary within T_fence, so the standby's node may fail it over from
 * elsewhere ({@code HaMonitor.failOverFromLostNode}). A node that fell silent before it saw the
 * standby gave no such word, and its primary may still take writes: it is not failed over from
 * elsewhere.
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

    /** Whether the node of {@code primary} said its self-fence covers it with {@code standby} on another node. */
    boolean acknowledged(UUID standby, UUID primary) {
        return dsl.fetchExists(STANDBY_FENCE_ACKS, STANDBY_FENCE_ACKS.STANDBY_ID.eq(standby).and(STANDBY_FENCE_ACKS.PRIMARY_ID.eq(primary)));
    }
}
