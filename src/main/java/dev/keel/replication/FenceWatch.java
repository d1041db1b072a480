package dev.keel.replication;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * What a node's fence guard ({@link FenceGuard}) watches: this node's primaries whose standby is
 * on another node (which that node may promote), how to ask each for its standby's last reply,
 * T_fence, and when ({@link System#nanoTime}: the machine's monotonic clock, one for every process
 * of a boot) this node's Keel last reached the catalog. The HA monitor writes it every round of its
 * self-fence; the guard reads it. One class writes and reads it, so the two never disagree.
 */
record FenceWatch(Duration fenceAfter, long contactNanos, Path certificate, List<Server> servers) {
    /** A primary the guard fences: its data directory, where it listens, its major, Keel's password on it, and its standby's name. */
    record Server(UUID instance, Path dataDir, String host, int port, int major, String password, String standby) {
    }

    /** The file's text: sorted, with no date line, so that the same watch is the same text. */
    String render() {
        Properties properties = new Properties();
        properties.setProperty("fence_after_millis", Long.toString(fenceAfter.toMillis()));
        properties.setProperty("contact_nanos", Long.toString(contactNanos));
        properties.setProperty("certificate", certificate.toString());
        for (int i = 0; i < servers.size(); i++) {
            Server server = servers.get(i);
            String prefix = "server." + i + ".";
            properties.setProperty(prefix + "instance", server.instance().toString());
            properties.setProperty(prefix + "data", server.dataDir().toString());
            properties.setProperty(prefix + "host", server.host());
            properties.setProperty(prefix + "port", Integer.toString(server.port()));
            properties.setProperty(prefix + "major", Integer.toString(server.major()));
            properties.setProperty(prefix + "password", server.password());
            properties.setProperty(prefix + "standby", server.standby());
        }
        StringWriter text = new StringWriter();
        try {
            properties.store(text, null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return text.toString().lines().filter(line -> !line.startsWith("#")).sorted().collect(Collectors.joining("\n", "", "\n"));
    }

    static FenceWatch parse(String text) {
        Properties properties = new Properties();
        try {
            properties.load(new StringReader(text));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Server> servers = new ArrayList<>();
        for (int i = 0; properties.containsKey("server." + i + ".instance"); i++) {
            String prefix = "server." + i + ".";
            servers.add(new Server(UUID.fromString(properties.getProperty(prefix + "instance")), Path.of(properties.getProperty(prefix + "data")),
                    properties.getProperty(prefix + "host"), Integer.parseInt(properties.getProperty(prefix + "port")),
                    Integer.parseInt(properties.getProperty(prefix + "major")), properties.getProperty(prefix + "password"), properties.getProperty(prefix + "standby")));
        }
        return new FenceWatch(Duration.ofMillis(Long.parseLong(properties.getProperty("fence_after_millis"))),
                Long.parseLong(properties.getProperty("contact_nanos")), Path.of(properties.getProperty("certificate")), List.copyOf(servers));
    }
}
