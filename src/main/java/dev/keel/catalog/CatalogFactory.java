package dev.keel.catalog;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.keel.StartupException;
import io.micronaut.context.BeanProvider;
import io.micronaut.context.annotation.Bean;
import io.micronaut.context.annotation.Factory;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import org.flywaydb.core.Flyway;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.jooq.impl.DefaultConfiguration;

import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;

/**
 * The catalog's connection pool, migrated by Flyway from {@code migrations/} before anyone uses
 * it, and the jOOQ {@link DSLContext} over it. Transactions are jOOQ's own
 * ({@code dsl.transactionResult(...)}); pass the transaction's context down, never open a
 * second connection inside one.
 */
@Factory
final class CatalogFactory {
    /** Where the build puts {@code migrations/} for Flyway. */
    static final String MIGRATIONS = "classpath:db/migration";

    @Singleton
    CatalogLocation catalogLocation(@Value("${keel.catalog.url}") String url,
                                    @Value("${keel.catalog.user}") String user,
                                    @Value("${keel.catalog.password}") String password,
                                    BeanProvider<EmbeddedCatalog> embedded) {
        if (url.isBlank()) {
            return embedded.get().ensureRunning();
        }
        return external(url, user, password);
    }

    /** Accepts a JDBC URL, or a libpq URL ({@code postgres://user:password@host:port/db}). */
    static CatalogLocation external(String url, String user, String password) {
        if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
            URI uri = URI.create(url);
            String userInfo = uri.getRawUserInfo();
            if (userInfo != null) {
                String[] parts = userInfo.split(":", 2);
                user = user.isBlank() ? decode(parts[0]) : user;
                password = password.isBlank() && parts.length > 1 ? decode(parts[1]) : password;
            }
            int port = uri.getPort() < 0 ? 5432 : uri.getPort();
            String jdbc = "jdbc:postgresql://" + uri.getHost() + ":" + port + uri.getRawPath()
                    + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
            return new CatalogLocation(jdbc, user, password, "external " + uri.getHost() + ":" + port + uri.getRawPath(), false);
        }
        if (!url.startsWith("jdbc:postgresql:")) {
            throw new StartupException("KEEL_CATALOG_URL must be a jdbc:postgresql:// or postgres:// URL, not " + url.split(":", 2)[0] + ":...");
        }
        return new CatalogLocation(url, user, password, "external " + url.replaceAll("password=[^&]*", "password=***"), false);
    }

    private static String decode(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    @Singleton
    @Bean(preDestroy = "close")
    HikariDataSource dataSource(CatalogLocation location) {
        HikariConfig config = new HikariConfig();
        config.setPoolName("catalog");
        config.setJdbcUrl(location.jdbcUrl());
        config.setUsername(location.user());
        config.setPassword(location.password());
        config.setMaximumPoolSize(16);
        config.setMinimumIdle(2);
        config.setInitializationFailTimeout(30_000);
        // A catalog out of reach is answered within seconds (503), not after 30: a connection waits 5 s to connect and
        // a request 10 s for one, and no statement waits on a dead socket for ever (catalog statements are short).
        config.setConnectionTimeout(10_000);
        config.addDataSourceProperty("connectTimeout", "5");
        config.addDataSourceProperty("socketTimeout", "30");
        config.addDataSourceProperty("tcpKeepAlive", "true");
        HikariDataSource dataSource;
        try {
            dataSource = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new StartupException("cannot reach the catalog (" + location + "): " + e.getMessage(), e);
        }
        // Migrations on a connection of their own, without the pool's socket timeout: one may build an index for minutes.
        Flyway.configure()
                .dataSource(location.jdbcUrl(), location.user(), location.password())
                .locations(MIGRATIONS)
                .failOnMissingLocations(true)
                .load()
                .migrate();
        return dataSource;
    }

    @Singleton
    CatalogConnections connections(HikariDataSource dataSource) {
        return new CatalogConnections(dataSource);
    }

    @Singleton
    DSLContext dsl(CatalogConnections connections) {
        return DSL.using(new DefaultConfiguration().set(connections).set(SQLDialect.POSTGRES).set(connections.listener()));
    }
}
