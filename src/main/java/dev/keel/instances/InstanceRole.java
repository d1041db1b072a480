package dev.keel.instances;

/**
 * {@code primary} serves the database; a {@code standby} is the hidden HA copy; an
 * {@code upgrade} is the server of a newer major being filled by logical replication, which
 * becomes the primary when the upgrade switches over.
 */
public enum InstanceRole {
    PRIMARY, STANDBY, UPGRADE;

    public String value() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    static InstanceRole of(String value) {
        return valueOf(value.toUpperCase(java.util.Locale.ROOT));
    }
}
