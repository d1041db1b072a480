package dev.keel.testing;

import org.jooq.DSLContext;

import java.time.OffsetDateTime;

import static dev.keel.catalog.schema.Tables.NODES;

/** Nodes of the catalog's registry that no Keel runs: rows only, as another node's would look. */
public final class SilentNodes {
    private SilentNodes() {
    }

    /**
     * Records node {@code prefix-<n>} of an older Keel, started two hours ago and silent for one,
     * and returns its name; the caller deletes its row when done.
     */
    public static String add(DSLContext catalog, String prefix) {
        String name = prefix + "-" + System.nanoTime();
        catalog.insertInto(NODES).set(NODES.NAME, name).set(NODES.VERSION, "0.0.9")
                .set(NODES.STARTED_AT, OffsetDateTime.now().minusHours(2)).set(NODES.HEARTBEAT_AT, OffsetDateTime.now().minusHours(1))
                .set(NODES.PORT_FIRST, 25000).set(NODES.PORT_LAST, 25999).set(NODES.MEMORY_BUDGET_MB, 4096L).set(NODES.DISK_BUDGET_MB, 10240L)
                .execute();
        return name;
    }
}
