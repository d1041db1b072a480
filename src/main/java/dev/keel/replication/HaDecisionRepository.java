package dev.keel.replication;

import jakarta.inject.Singleton;
import org.jooq.DSLContext;

import java.time.ZoneOffset;
import java.util.List;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.HA_DECISIONS;

/**
 * The HA monitor's decisions in the catalog ({@code ha_decisions}): whichever node took one, every
 * node shows it, also after a failover has moved the watch to another node.
 */
@Singleton
final class HaDecisionRepository {
    private final DSLContext dsl;

    HaDecisionRepository(DSLContext dsl) {
        this.dsl = dsl;
    }

    /** Keeps {@code decision}, taken by {@code node}, and forgets what is older than the newest {@code kept}. */
    void record(UUID databaseId, String node, HaMonitor.Recorded decision, int kept) {
        dsl.transaction(tx -> {
            tx.dsl().insertInto(HA_DECISIONS).set(HA_DECISIONS.DATABASE_ID, databaseId).set(HA_DECISIONS.KIND, decision.kind())
                    .set(HA_DECISIONS.SENTENCE, decision.sentence()).set(HA_DECISIONS.DECIDED_AT, decision.at().atOffset(ZoneOffset.UTC))
                    .set(HA_DECISIONS.OPERATION_ID, decision.operationId()).set(HA_DECISIONS.NODE, node).execute();
            tx.dsl().deleteFrom(HA_DECISIONS).where(HA_DECISIONS.DATABASE_ID.eq(databaseId))
                    .and(HA_DECISIONS.ID.notIn(tx.dsl().select(HA_DECISIONS.ID).from(HA_DECISIONS)
                            .where(HA_DECISIONS.DATABASE_ID.eq(databaseId)).orderBy(HA_DECISIONS.ID.desc()).limit(kept)))
                    .execute();
        });
    }

    /** The newest {@code limit} decisions about the database, newest first. */
    List<HaMonitor.Recorded> recent(UUID databaseId, int limit) {
        return dsl.select(HA_DECISIONS.KIND, HA_DECISIONS.SENTENCE, HA_DECISIONS.DECIDED_AT, HA_DECISIONS.OPERATION_ID)
                .from(HA_DECISIONS).where(HA_DECISIONS.DATABASE_ID.eq(databaseId)).orderBy(HA_DECISIONS.ID.desc()).limit(limit)
                .fetch(row -> new HaMonitor.Recorded(row.value1(), row.value2(), row.value3().toInstant(), row.value4()));
    }
}
