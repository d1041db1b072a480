package dev.keel.dumps;

import java.util.Locale;

/**
 * <pre>
 *   running ──► completed   (a backup: its object stored with its sha256; a restore: pg_restore finished)
 *      ├──────► failed      (with the reason; a backup's partial upload is discarded)
 *      └──────► canceled    (asked to stop; the same clean-up)
 * </pre>
 */
public enum TransferState {
    RUNNING, COMPLETED, FAILED, CANCELED;

    public boolean canBecome(TransferState target) {
        return this == RUNNING && target != RUNNING;
    }

    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }

    static TransferState of(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
