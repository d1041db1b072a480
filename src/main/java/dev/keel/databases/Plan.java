package dev.keel.databases;

import io.micronaut.serde.annotation.Serdeable;

/**
 * What a plan allows. {@code rollbackWindowDays} is how far back rollback reaches (0: none);
 * {@code fork}, {@code follow} and {@code ha} say whether the plan may fork, be followed, and
 * gets a hot standby.
 */
@Serdeable
public record Plan(String name, String tier, int connections, int storageGb, int rollbackWindowDays, boolean fork, boolean follow,
                   boolean ha, int backupRetentionDays) {
    /**
     * The memory each of the plan's servers counts for against its node's budget when placing: the
     * shared buffers Keel leaves at Postgres' 128 MB, and 2 MB for each connection the plan allows.
     */
    public long memoryMb() {
        return 128 + 2L * connections;
    }

    /** Whether credentials other than the default one may be created (all but essential plans, as on Heroku). */
    public boolean namedCredentials() {
        return !"essential".equals(tier);
    }
}
