package dev.keel.instances;

/** {@code primary} serves the database; a {@code standby} is the hidden HA copy. */
public enum InstanceRole {
    PRIMARY, STANDBY;

    public String value() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    static InstanceRole of(String value) {
        return valueOf(value.toUpperCase(java.util.Locale.ROOT));
    }
}
