package dev.keel.auth;

import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.exception.DataAccessException;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.postgresql.ds.PGSimpleDataSource;

import java.net.ServerSocket;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link ApiKeys#stillActive}, what a log follow stream asks at every poll: the catalog's answer is
 * reused for {@link ApiKeys#ACTIVE_KNOWN_FOR}, a revocation through this node is known here at once
 * and through another node once that time has passed, and a catalog that cannot answer does not
 * end what a key keeps open.
 */
@ExtendWith(SharedKeel.class)
class ApiKeysStillActiveTest {
    @Test
    void aRevocationIsKnownAtOnceOnItsNodeAndSoonOnOthers(TestKeel keel) {
        Api team = keel.newTeam("still-active-" + System.nanoTime());
        Api.Response created = team.post("/v1/api-keys", "{\"name\":\"asked\"}");
        assertThat(created.status()).isEqualTo(201);
        UUID id = UUID.fromString(created.field("id"));
        ApiKeys here = keel.bean(ApiKeys.class);
        ApiKeys otherNode = new ApiKeys(keel.bean(DSLContext.class)); // another node's, on the same catalog
        assertThat(here.stillActive(id)).isTrue();
        assertThat(otherNode.stillActive(id)).isTrue();

        assertThat(team.delete("/v1/api-keys/" + created.field("id")).status()).isEqualTo(204);
        assertThat(here.stillActive(id)).as("on the node that revoked it").isFalse();
        long revoked = System.nanoTime();
        Wait.until("another node to learn of the revocation", Timeouts.FOLLOW_REVOKED, () -> !otherNode.stillActive(id));
        assertThat((System.nanoTime() - revoked) / 1_000_000).as("ms until another node knew")
                .isLessThanOrEqualTo(ApiKeys.ACTIVE_KNOWN_FOR.toMillis() + Timeouts.REQUEST.toMillis());
    }

    @Test
    void aKeyTheCatalogCannotBeAskedAboutCountsAsActive() throws Exception {
        int closed;
        try (ServerSocket listening = new ServerSocket(0)) {
            closed = listening.getLocalPort(); // nothing listens there once it is closed
        }
        PGSimpleDataSource unreachable = new PGSimpleDataSource();
        unreachable.setURL("jdbc:postgresql://127.0.0.1:" + closed + "/keel");
        ApiKeys keys = new ApiKeys(DSL.using(unreachable, SQLDialect.POSTGRES));
        UUID key = UUID.randomUUID();
        assertThatThrownBy(() -> keys.active(key)).isInstanceOf(DataAccessException.class);
        assertThat(keys.stillActive(key)).isTrue();
    }

    @Test
    void aHungCatalogIsWaitedForOnceInAWhileNotAtEveryAsk() throws Exception {
        // A catalog host that accepts connections and never answers: each ask waits for the login timeout.
        try (ServerSocket hung = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            PGSimpleDataSource silent = new PGSimpleDataSource();
            silent.setURL("jdbc:postgresql://127.0.0.1:" + hung.getLocalPort() + "/keel");
            silent.setLoginTimeout(1);
            ApiKeys keys = new ApiKeys(DSL.using(silent, SQLDialect.POSTGRES));
            UUID key = UUID.randomUUID();
            long first = System.nanoTime();
            assertThat(keys.stillActive(key)).isTrue();
            assertThat((System.nanoTime() - first) / 1_000_000).as("ms the first ask waited for the hung catalog").isGreaterThanOrEqualTo(900);
            long again = System.nanoTime();
            for (int i = 0; i < 5; i++) {
                assertThat(keys.stillActive(key)).isTrue();
            }
            assertThat((System.nanoTime() - again) / 1_000_000).as("ms five more asks took within " + ApiKeys.ACTIVE_KNOWN_FOR)
                    .isLessThan(500);
        }
    }
}
