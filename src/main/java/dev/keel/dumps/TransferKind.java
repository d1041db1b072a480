package dev.keel.dumps;

import java.util.Locale;

/** A logical backup of a database, or a restore of one into a database. */
public enum TransferKind {
    BACKUP, RESTORE;

    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }

    static TransferKind of(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
