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
import org.jooq.impl.DefaultConfiguration;
import org.jooq.impl.DefaultConnectionProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A statement left waiting on the catalog (here a sleep; after an outage, a request TCP has not
 * retransmitted yet) fails at once when its connection is aborted, and the pool drops that
 * connection; a connection lent as long but idle between statements, and a statement begun after
 * the cutoff, are left alone.
 */
@ExtendWith(SharedKeel.class)
class CatalogConnectionsTest {
    private static final int POOL = 4;

    @Test
    void aStatementWaitingSinceBeforeTheCutoffFailsAtOnceAndItsConnectionLeavesThePool(TestKeel shared) throws Exception {
        TestKeel.CatalogServerDatabase db = shared.newDatabaseOnCatalogServer("lent");
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(db.jdbcUrl());
        config.setUsername(db.user());
        config.setPassword(db.password());
        config.setMaximumPoolSize(POOL);
        config.addDataSourceProperty("socketTimeout", "30");
        try (HikariDataSource pool = new HikariDataSource(config)) {
            CatalogConnections connections = new CatalogConnections(pool);
            DSLContext sql = DSL.using(new DefaultConfiguration().set(connections).set(SQLDialect.POSTGRES).set(connections.listener()));
            AtomicReference<Connection> waitingOn = new AtomicReference<>();
            CompletableFuture<Throwable> waiting = CompletableFuture.supplyAsync(() -> {
                try {
                    sql.connection(c -> {
                        waitingOn.set(c.unwrap(Connection.class));
                        // On the connection lent here, timed by the pool's listener as every catalog statement is.
                        DSL.using(sql.configuration().derive(new DefaultConnectionProvider(c))).execute("select pg_sleep(60)");
                    });
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });
            Connection idle = connections.acquire(); // lent before the cutoff, but with no statement under way
            Wait.until("the sleep to run", Duration.ofSeconds(10), () -> ((Number) sql.fetchValue(
                    "select count(*) from pg_stat_activity where query = 'select pg_sleep(60)' and state = 'active'")).intValue() == 1);
            long cutoff = System.nanoTime();

            long aborting = System.nanoTime();
            assertThat(connections.abortWaitingSince(cutoff)).isEqualTo(1);
            Throwable failed = waiting.get(5, TimeUnit.SECONDS);
            assertThat(Duration.ofNanos(System.nanoTime() - aborting)).isLessThan(Duration.ofSeconds(5));
            assertThat(failed).isInstanceOf(DataAccessException.class);

            assertThat(idle.isValid(1)).as("a connection idle between statements is left alone").isTrue();
            connections.release(idle);
            assertThat(((Number) sql.fetchValue("select 1")).intValue()).isEqualTo(1);
            assertThat(connections.abortWaitingSince(System.nanoTime())).isZero();
            // Every connection the pool lends now is another than the aborted one, and works.
            List<Connection> all = new ArrayList<>();
            for (int i = 0; i < POOL; i++) {
                all.add(connections.acquire());
            }
            for (Connection c : all) {
                assertThat(c.unwrap(Connection.class)).isNotSameAs(waitingOn.get());
                assertThat(c.isValid(1)).isTrue();
                connections.release(c);
            }
        }
    }
}
