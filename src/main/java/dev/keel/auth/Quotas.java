package dev.keel.auth;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.annotation.ConfigurationProperties;

/**
 * {@code keel.quotas.*}: what one team may hold, so that no team can use up what all teams
 * share. Manual backups are bounded per database: past the quota, the oldest expires.
 */
@ConfigurationProperties("keel.quotas")
public final class Quotas {
    private int databases = 100;
    private int dataclips = 500;
    private int manualBackups = 25;

    public int getDatabases() {
        return databases;
    }

    public void setDatabases(int databases) {
        this.databases = databases;
    }

    public int getDataclips() {
        return dataclips;
    }

    public void setDataclips(int dataclips) {
        this.dataclips = dataclips;
    }

    public int getManualBackups() {
        return manualBackups;
    }

    public void setManualBackups(int manualBackups) {
        this.manualBackups = manualBackups;
    }

    /** Throws the 403 when a team that holds {@code held} of {@code what} may not add one more. */
    public static void require(long held, int quota, String what, String setting) {
        if (held >= quota) {
            throw new KeelException(ProblemType.QUOTA_EXCEEDED, "The team has " + held + " " + what + ", its quota; delete one first,"
                    + " or ask the operator to raise " + setting + ".").with("quota", quota);
        }
    }
}
