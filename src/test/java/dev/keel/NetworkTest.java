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
    void aNodesNetworkThatIsNotANarrowCidrStopsTheStartWithASentence() {
        for (String bad : new String[] {"10.0.0.0/24 all", "10.0.0.0/33", "999.1.1.1/8", "::::/999", "0.0.0.0/0", "::/0", "10.0.0.0/7",
                "fd00::/15", "db.example/24"}) {
            assertThat(catchThrowable(() -> new Network("10.0.0.7", "", bad))).as(bad)
                    .isInstanceOf(StartupException.class)
                    .hasMessage("KEEL_NODES_NETWORK '" + bad + "' is not a network of Keel nodes: give the one the nodes share as a CIDR"
                            + " of at least /8 (IPv4) or /16 (IPv6), such as 10.0.0.0/24 or fd00::/64, holding only Keel nodes, or leave"
                            + " it unset for one node.");
        }
        assertThat(new Network("10.0.0.7", "", "10.0.0.0/8").keelSources()).containsExactly("10.0.0.7/32", "10.0.0.0/8");
    }
}
