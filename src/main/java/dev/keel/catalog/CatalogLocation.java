package dev.keel.catalog;

/** How to reach the catalog; {@code description} is safe to print (no password). */
public record CatalogLocation(String jdbcUrl, String user, String password, String description) {
    @Override
    public String toString() {
        return description;
    }
}
