package dev.keel.catalog;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Wait;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.exception.DataAccessException;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A statement left waiting on the catalog (here a sleep; after an outage, a request TCP has not
 * retransmitted yet) fails at once when its connection is aborted, a connection lent later is
 * left alone, and the pool goes on with fresh connections.
 */
@ExtendWith(SharedKeel.class)
class CatalogConnectionsTest {
    @Test
    void aWaitingStatementFailsAtOnceWhenItsConnectionLentBeforeTheCutoffIsAborted(TestKeel shared) throws Exception {
        TestKeel.CatalogServerDatabase db = shared.newDatabaseOnCatalogServer("lent");
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(db.jdbcUrl());
        config.setUsername(db.user());
        config.setPassword(db.password());
        config.setMaximumPoolSize(4);
        config.addDataSourceProperty("socketTimeout", "30");
        try (HikariDataSource pool = new HikariDataSource(config)) {
            CatalogConnections connections = new CatalogConnections(pool);
            DSLContext sql = DSL.using(connections, SQLDialect.POSTGRES);
            CompletableFuture<Throwable> waiting = CompletableFuture.supplyAsync(() -> {
                try {
                    sql.execute("select pg_sleep(60)");
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });
            Wait.until("the sleep to run", Duration.ofSeconds(10), () -> ((Number) sql.fetchValue(
                    "select count(*) from pg_stat_activity where query = 'select pg_sleep(60)' and state = 'active'")).intValue() == 1);
            long cutoff = System.nanoTime();
            Connection later = connections.acquire();

            long aborting = System.nanoTime();
            assertThat(connections.abortLentBefore(cutoff)).isEqualTo(1);
            Throwable failed = waiting.get(5, TimeUnit.SECONDS);
            assertThat(Duration.ofNanos(System.nanoTime() - aborting)).isLessThan(Duration.ofSeconds(5));
            assertThat(failed).isInstanceOf(DataAccessException.class);

            assertThat(later.isValid(1)).isTrue();
            connections.release(later);
            assertThat(((Number) sql.fetchValue("select 1")).intValue()).isEqualTo(1);
            assertThat(connections.abortLentBefore(System.nanoTime())).isZero();
            Wait.until("the aborted connection to leave the pool", Duration.ofSeconds(10),
                    () -> pool.getHikariPoolMXBean().getActiveConnections() == 0);
        }
    }
}
