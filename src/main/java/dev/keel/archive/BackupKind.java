package dev.keel.archive;

import java.util.Locale;

/** Why a backup was taken: the first after provisioning, the daily schedule, or a user's request. */
public enum BackupKind {
    INITIAL, SCHEDULED, MANUAL;

    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }

    static BackupKind of(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
