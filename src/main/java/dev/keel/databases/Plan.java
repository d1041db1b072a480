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
    /** Whether credentials other than the default one may be created (all but essential plans, as on Heroku). */
    public boolean namedCredentials() {
        return !"essential".equals(tier);
    }
}
