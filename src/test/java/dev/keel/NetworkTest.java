package dev.keel;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/** Where Keel's own logins may come from: this node's address, and the nodes' network when several nodes share a catalog. */
class NetworkTest {
    @Test
    void keelComesInFromItsOwnAddressAndTheNodesNetworkOnly() {
        assertThat(new Network("10.0.0.7", "", "10.0.0.0/24").keelSources()).containsExactly("10.0.0.7/32", "10.0.0.0/24");
        assertThat(new Network("0.0.0.0", "db.example", "").keelSources()).containsExactly("127.0.0.1/32");
        assertThat(new Network("::1", "", " fd00::/64 ").keelSources()).containsExactly("::1/128", "fd00::/64");
    }

    @Test
    void aNodesNetworkThatIsNotACidrStopsTheStartWithASentence() {
        assertThat(catchThrowable(() -> new Network("10.0.0.7", "", "10.0.0.0/24 all")))
                .isInstanceOf(StartupException.class)
                .hasMessage("KEEL_NODES_NETWORK '10.0.0.0/24 all' is not a network: give the one the Keel nodes share as a CIDR"
                        + " (10.0.0.0/24, fd00::/64), or leave it unset for one node.");
    }
}
