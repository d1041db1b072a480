package dev.keel.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Separate "hosts" on this machine for multi-node tests: one Linux network namespace per host,
 * each joined by a veth pair to one bridge, on a private {@code 10.231.<n>.0/24} of its own. The
 * bridge holds {@code .1}, so the test JVM (in the root namespace) reaches every host; host
 * {@code i} holds {@code .(i+2)} and has its own loopback. Processes on a host share the file
 * system and the PID space with the test JVM: only the network is separate.
 *
 * <p>A {@link Host}'s link can be cut and healed (a partition with its processes alive), and all
 * its processes killed (a lost machine). Needs root and {@code ip} (iproute2).
 *
 * <p>Each instance claims a free {@code <n>} by creating its bridge ({@code keel<n>br}; creating an
 * interface that exists fails, so two harnesses, in this JVM or another, never share a subnet)
 * and labels it with its owner (PID namespace, PID, start time). At creation, what a harness
 * whose owner is gone left behind (namespaces {@code keel<n>-*}, their processes, the bridge) is
 * removed; a live owner's, or one in another PID namespace, is left alone.
 */
public final class Hosts implements AutoCloseable {
    private static final String LABEL = "keel-hosts";
    private static final Pattern BRIDGE = Pattern.compile("^\\d+: (keel(\\d+)br)[:@].*alias " + LABEL + " pidns=(\\S+) pid=(\\d+) start=(\\d+)");
    private static final Duration COMMAND = Duration.ofSeconds(30);
    private static final String PREFIX = "10.231.";

    private final int subnet;
    private final String bridge;
    private final Map<String, Host> hosts = new LinkedHashMap<>();

    private Hosts(int subnet) {
        this.subnet = subnet;
        this.bridge = "keel" + subnet + "br";
    }

    /** A bridge and one host per name (at most 200), each with its address and loopback up. */
    public static Hosts create(String... names) {
        requireRootAndIp();
        removeLeftovers();
        Hosts made = claimSubnet();
        try {
            for (String name : names) {
                made.addHost(name);
            }
        } catch (RuntimeException e) {
            made.close();
            throw e;
        }
        return made;
    }

    /** The host called {@code name}. */
    public Host host(String name) {
        Host host = hosts.get(name);
        if (host == null) {
            throw new IllegalArgumentException("no host " + name + " among " + hosts.keySet());
        }
        return host;
    }

    /** The test JVM's own address on the bridge (the root namespace's). */
    public String rootAddress() {
        return PREFIX + subnet + ".1";
    }

    /** {@code 10.231.<n>.0/24}. */
    public String cidr() {
        return PREFIX + subnet + ".0/24";
    }

    /** Kills every host's processes, then removes the namespaces (their veths go with them) and the bridge. */
    @Override
    public void close() {
        RuntimeException first = null;
        for (Host host : hosts.values()) {
            try {
                host.killAll();
                ip("netns", "del", host.namespace);
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        try {
            ip("link", "del", bridge);
        } catch (RuntimeException e) {
            first = first == null ? e : first;
        }
        if (first != null) {
            throw first;
        }
    }

    private void addHost(String name) {
        if (!name.matches("[a-z0-9-]{1,20}") || hosts.containsKey(name) || hosts.size() >= 200) {
            throw new IllegalArgumentException("a host name is 1-20 of [a-z0-9-], unique, and there are at most 200 hosts: " + name);
        }
        int index = hosts.size();
        Host host = new Host(name, "keel" + subnet + "-" + name, PREFIX + subnet + "." + (index + 2), "keel" + subnet + "h" + index);
        ip("netns", "add", host.namespace);
        hosts.put(name, host);
        // The host's end is eth0 inside its namespace from the start; the bridge's end stays here.
        ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.namespace);
        ip("link", "set", host.veth, "master", bridge);
        ip("link", "set", host.veth, "up");
        ip("-n", host.namespace, "link", "set", "lo", "up");
        ip("-n", host.namespace, "addr", "add", host.address + "/24", "dev", "eth0");
        ip("-n", host.namespace, "link", "set", "eth0", "up");
    }

    /** The bridge's alias: whose harness it is. */
    static String label(long pid, long startMillis) {
        return LABEL + " pidns=" + pidNamespace() + " pid=" + pid + " start=" + startMillis;
    }

    private static Hosts claimSubnet() {
        ProcessHandle self = ProcessHandle.current();
        String label = label(self.pid(), startMillis(self).orElse(0L));
        int offset = (int) (self.pid() % 256);
        for (int i = 0; i < 256; i++) {
            int subnet = (offset + i) % 256;
            Hosts candidate = new Hosts(subnet);
            if (!addressInUse(candidate.cidr()) && !remnants(subnet) && tryIp("link", "add", "name", candidate.bridge, "type", "bridge")) {
                ip("link", "set", candidate.bridge, "alias", label);
                ip("addr", "add", candidate.rootAddress() + "/24", "dev", candidate.bridge);
                ip("link", "set", candidate.bridge, "up");
                return candidate;
            }
        }
        throw new IllegalStateException("no free subnet in " + PREFIX + "0.0/16 for a Hosts harness: " + ip("-o", "link", "show", "type", "bridge"));
    }

    /** Whether anything in the root namespace already routes {@code cidr} (another network using 10.231.x). */
    private static boolean addressInUse(String cidr) {
        return !ip("route", "show", "match", cidr.replace(".0/24", ".1")).lines()
                .filter(line -> !line.startsWith("default")).toList().isEmpty();
    }

    /**
     * Whether a veth or a namespace named for subnet {@code subnet} is still there: the kernel tears a deleted namespace
     * down later, its veth pair with it, so a harness this JVM just closed (and tries first again: its offset is the
     * pid), or a killed run's, can leave one for a while. A CI run that took such a subnet failed with "RTNETLINK
     * answers: File exists". A namespace left without its bridge (a close that failed) keeps its subnet out for good;
     * there are 256.
     */
    private static boolean remnants(int subnet) {
        String prefix = "keel" + subnet;
        return ip("-o", "link", "show").lines().anyMatch(line -> line.matches("^\\d+: " + prefix + "h\\d+[:@].*"))
                || namespaces().stream().anyMatch(namespace -> namespace.startsWith(prefix + "-"));
    }

    /** Removes what harnesses whose owner process is gone left behind (a crashed or killed run). */
    private static void removeLeftovers() {
        String pidns = pidNamespace();
        for (String line : ip("-o", "link", "show", "type", "bridge").lines().toList()) {
            Matcher m = BRIDGE.matcher(line);
            if (!m.find() || !m.group(3).equals(pidns)) {
                continue;
            }
            long pid = Long.parseLong(m.group(4));
            long start = Long.parseLong(m.group(5));
            boolean alive = ProcessHandle.of(pid).flatMap(Hosts::startMillis).map(s -> s == start).orElse(false);
            if (alive) {
                continue;
            }
            String namespacePrefix = "keel" + m.group(2) + "-";
            for (String namespace : namespaces()) {
                if (namespace.startsWith(namespacePrefix)) {
                    killAll(namespace);
                    tryIp("netns", "del", namespace);
                }
            }
            tryIp("link", "del", m.group(1));
        }
    }

    private static List<String> namespaces() {
        // "name (id: 3)" or "name"
        return ip("netns", "list").lines().map(line -> line.split(" ")[0]).filter(s -> !s.isBlank()).toList();
    }

    private static void requireRootAndIp() {
        if (!"root".equals(System.getProperty("user.name"))) {
            throw new IllegalStateException("the Hosts harness makes network namespaces and needs root (as .ci/run runs)");
        }
        try {
            ip("-V");
        } catch (RuntimeException e) {
            throw new IllegalStateException("the Hosts harness needs ip from iproute2 (apt-get install iproute2, as .ci/run does)", e);
        }
    }

    private static String pidNamespace() {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString().replaceAll("\\D", "");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Optional<Long> startMillis(ProcessHandle process) {
        return process.info().startInstant().map(instant -> instant.toEpochMilli() / 1000 * 1000);
    }

    /** SIGKILL to every process in {@code namespace} until none is left (a dying parent may still fork). */
    static void killAll(String namespace) {
        Wait.until("every process in network namespace " + namespace + " to be gone", Timeouts.PROCESS_EXIT, () -> {
            List<Long> pids = pids(namespace);
            pids.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
            return pids.isEmpty();
        });
    }

    static List<Long> pids(String namespace) {
        return ip("netns", "pids", namespace).lines().filter(s -> !s.isBlank()).map(Long::parseLong).toList();
    }

    static String ip(String... arguments) {
        Result result = run(arguments);
        if (result.exit != 0) {
            throw new IllegalStateException("ip " + String.join(" ", arguments) + " exited with " + result.exit + ": " + result.output.strip());
        }
        return result.output;
    }

    private static boolean tryIp(String... arguments) {
        return run(arguments).exit == 0;
    }

    private record Result(int exit, String output) {
    }

    private static Result run(String... arguments) {
        List<String> command = new ArrayList<>(List.of("ip"));
        command.addAll(List.of(arguments));
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(COMMAND.toSeconds(), TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IllegalStateException(String.join(" ", command) + " did not finish within " + COMMAND.toSeconds() + " s");
            }
            return new Result(process.exitValue(), output);
        } catch (IOException e) {
            throw new UncheckedIOException("could not run " + String.join(" ", command), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * One "machine": a network namespace with its own loopback and one address on the bridge.
     * What runs in it sees only that network; files and PIDs are the test JVM's.
     */
    public final class Host {
        private final String name;
        private final String namespace;
        private final String address;
        private final String veth;

        private Host(String name, String namespace, String address, String veth) {
            this.name = name;
            this.namespace = namespace;
            this.address = address;
            this.veth = veth;
        }

        public String name() {
            return name;
        }

        /** Its address on the bridge, which every other host and the test JVM reach it at. */
        public String address() {
            return address;
        }

        /** The network namespace's name, for {@code ip netns exec}. */
        public String namespace() {
            return namespace;
        }

        /** {@code command} as a command that runs on this host ({@code ip netns exec <ns> command...}). */
        public List<String> command(List<String> command) {
            List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
            full.addAll(command);
            return full;
        }

        /**
         * A process builder for {@code command} on this host. {@code ip netns exec} replaces itself
         * with the command, so the started {@link Process} is the command's own process.
         */
        public ProcessBuilder exec(String... command) {
            return new ProcessBuilder(command(List.of(command)));
        }

        /**
         * Cuts the host's link: the bridge's end of its veth goes down, so every frame to and from
         * the host is dropped without an answer, as with a pulled cable. The host keeps its address,
         * routes and loopback, and its processes keep running and reaching each other.
         */
        public void cut() {
            ip("link", "set", veth, "down");
        }

        /**
         * Brings the link back up: connections that survived the cut resume, new ones succeed. Address
         * resolution that failed during the cut is forgotten on every side (otherwise the first connect
         * after the heal may still fail with "No route to host" from a neighbour entry left FAILED).
         */
        public void heal() {
            ip("link", "set", veth, "up");
            ip("-n", namespace, "neigh", "flush", "dev", "eth0");
            ip("neigh", "flush", "to", address);
            for (Host other : hosts.values()) {
                if (other != this) {
                    ip("-n", other.namespace, "neigh", "flush", "to", address);
                }
            }
        }

        /**
         * Cuts the link between this host and {@code other} alone, both ways: each routes the other's
         * address into a blackhole, so a connection between the two fails at once, while both still
         * reach every other host (the catalog's, the store's).
         */
        public void cutFrom(Host other) {
            ip("-n", namespace, "route", "add", "blackhole", other.address + "/32");
            ip("-n", other.namespace, "route", "add", "blackhole", address + "/32");
        }

        /** Undoes {@link #cutFrom}, or what of it was done. */
        public void healFrom(Host other) {
            tryIp("-n", namespace, "route", "del", "blackhole", other.address + "/32");
            tryIp("-n", other.namespace, "route", "del", "blackhole", address + "/32");
        }

        /** {@code kill -9} of every process on this host (a lost machine), waiting until all are gone. */
        public void killAll() {
            Hosts.killAll(namespace);
        }

        /** The processes running on this host now. */
        public List<Long> pids() {
            return Hosts.pids(namespace);
        }

        @Override
        public String toString() {
            return name + " (" + address + ", netns " + namespace + ")";
        }
    }
}
