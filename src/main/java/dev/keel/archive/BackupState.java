package dev.keel.archive;

import java.util.Locale;

/**
 * <pre>
 *   running ──► completed   (every file uploaded, manifest written, WAL to the stop LSN archived)
 *      └──────► failed      (with the reason; whatever it uploaded is removed)
 * </pre>
 */
public enum BackupState {
    RUNNING, COMPLETED, FAILED;

    public boolean canBecome(BackupState target) {
        return this == RUNNING && target != RUNNING;
    }

    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }

    static BackupState of(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
