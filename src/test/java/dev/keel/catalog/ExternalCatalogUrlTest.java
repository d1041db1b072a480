package dev.keel.catalog;

import dev.keel.StartupException;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ExternalCatalogUrlTest {
    @Test
    void takesAJdbcUrlAsIsAndHidesItsPasswordInTheDescription() {
        CatalogLocation location = CatalogFactory.external("jdbc:postgresql://db:5432/keel?password=s3cret&ssl=true", "keel", "");
        assertThat(location.jdbcUrl()).isEqualTo("jdbc:postgresql://db:5432/keel?password=s3cret&ssl=true");
        assertThat(location.toString()).doesNotContain("s3cret").contains("password=***");
    }

    @Test
    void takesALibpqUrlWithCredentials() {
        CatalogLocation location = CatalogFactory.external("postgres://keel:p%40ss@db.internal:6432/catalog?sslmode=require", "", "");
        assertThat(location.jdbcUrl()).isEqualTo("jdbc:postgresql://db.internal:6432/catalog?sslmode=require");
        assertThat(location.user()).isEqualTo("keel");
        assertThat(location.password()).isEqualTo("p@ss");
        assertThat(location.toString()).doesNotContain("p@ss");
    }

    @Test
    void explicitUserAndPasswordWinOverTheUrl() {
        CatalogLocation location = CatalogFactory.external("postgresql://a:b@db/catalog", "other", "secret");
        assertThat(location.jdbcUrl()).isEqualTo("jdbc:postgresql://db:5432/catalog");
        assertThat(location.user()).isEqualTo("other");
        assertThat(location.password()).isEqualTo("secret");
    }

    @Test
    void rejectsOtherSchemes() {
        assertThatThrownBy(() -> CatalogFactory.external("mysql://db/keel", "", ""))
                .isInstanceOf(StartupException.class)
                .hasMessage("KEEL_CATALOG_URL must be a jdbc:postgresql:// or postgres:// URL, not mysql:...");
    }
}
