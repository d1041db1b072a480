package dev.keel.catalog;

/**
 * How to reach the catalog; {@code description} is safe to print (no password). {@code embedded}: the
 * catalog is the cluster Keel runs under its own data directory, which no other node may join.
 */
public record CatalogLocation(String jdbcUrl, String user, String password, String description, boolean embedded) {
    @Override
    public String toString() {
        return description;
    }
}
