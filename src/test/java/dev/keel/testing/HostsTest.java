package dev.keel.testing;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The network-namespace harness itself: a host reaches the test JVM over the bridge and loses it
 * while cut, killAll leaves nothing running on a host, and what a dead run left is removed.
 */
class HostsTest {

    @Test
    void aCutHostReachesNothingUntilHealedAndKillAllEmptiesIt() throws Exception {
        try (Hosts hosts = Hosts.create("a", "b");
             ServerSocket listener = new ServerSocket(0, 50, InetAddress.getByName(hosts.rootAddress()))) {
            Hosts.Host a = hosts.host("a");
            assertThat(a.address()).isNotEqualTo(hosts.host("b").address()).startsWith(hosts.cidr().replace("0/24", ""));
            assertThat(send(a, hosts.rootAddress(), listener.getLocalPort())).as("before the cut").isZero();
            try (Socket accepted = listener.accept()) {
                assertThat(new String(accepted.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).isEqualTo(a.name() + "\n");
            }
            a.cut();
            assertThat(send(a, hosts.rootAddress(), listener.getLocalPort())).as("while cut").isNotZero();
            a.heal();
            assertThat(send(a, hosts.rootAddress(), listener.getLocalPort())).as("after the heal").isZero();
            listener.accept().close();

            Process sleeper = a.exec("sleep", "600").start();
            // `ip netns exec` enters the namespace after it has started: a look at once can miss it (it did, in a CI run).
            Wait.until("the sleeper to run in host a", Timeouts.PROCESS_EXIT, () -> a.pids().contains(sleeper.pid()));
            a.killAll();
            assertThat(sleeper.waitFor(Timeouts.PROCESS_EXIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(a.pids()).isEmpty();
        }
    }

    @Test
    void closingRemovesTheNamespacesAndTheBridge() {
        Hosts hosts = Hosts.create("only");
        String namespace = hosts.host("only").namespace();
        String bridge = "keel" + hosts.cidr().split("\\.")[2] + "br";
        hosts.close();
        assertThat(Hosts.ip("netns", "list")).doesNotContain(namespace);
        assertThat(Hosts.ip("-o", "link", "show")).doesNotContain(bridge + ":");
    }

    @Test
    void whatADeadRunLeftIsRemovedAtTheNextStart() throws Exception {
        Process finished = new ProcessBuilder("true").start();
        finished.waitFor();
        int subnet = 254;
        while (Hosts.ip("-o", "link", "show").contains("keel" + subnet + "br:")) {
            subnet--;
        }
        String bridge = "keel" + subnet + "br";
        String namespace = "keel" + subnet + "-left";
        Hosts.ip("link", "add", "name", bridge, "type", "bridge");
        Hosts.ip("link", "set", bridge, "alias", Hosts.label(finished.pid(), 0));
        Hosts.ip("netns", "add", namespace);
        Process orphan = new ProcessBuilder("ip", "netns", "exec", namespace, "sleep", "600").start();
        try {
            Hosts.create("next").close();
            assertThat(orphan.waitFor(Timeouts.PROCESS_EXIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(Hosts.ip("netns", "list")).doesNotContain(namespace);
            assertThat(Hosts.ip("-o", "link", "show")).doesNotContain(bridge + ":");
        } finally {
            orphan.destroyForcibly();
            new ProcessBuilder("ip", "netns", "del", namespace).start().waitFor();
            new ProcessBuilder("ip", "link", "del", bridge).start().waitFor();
        }
    }

    /** Exit status of a TCP connect and send from {@code host} (bash's /dev/tcp), bounded by {@link Timeouts#CUT_CONNECT}. */
    private static int send(Hosts.Host host, String address, int port) throws IOException, InterruptedException {
        Process client = host.exec("timeout", Long.toString(Timeouts.CUT_CONNECT.toSeconds()), "bash", "-c", "echo " + host.name() + " > /dev/tcp/" + address + "/" + port).start();
        assertThat(client.waitFor(Timeouts.PROCESS_EXIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        return client.exitValue();
    }
}
