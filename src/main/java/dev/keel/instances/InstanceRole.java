package dev.keel.instances;

import java.util.Locale;

/**
 * {@code primary} serves the database; a {@code standby} is the hidden HA copy; an
 * {@code upgrade} is the server of a newer major being filled by logical replication, which
 * becomes the primary when the upgrade switches over.
 */
public enum InstanceRole {
    PRIMARY, STANDBY, UPGRADE;

    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }

    static InstanceRole of(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
