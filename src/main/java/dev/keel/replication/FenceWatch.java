package dev.keel.replication;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * What a node's fence guard ({@link FenceGuard}) watches: this node's primaries whose standby is
 * on another node (which that node may promote), how to ask each for its standby's last reply and
 * where its files are, T_fence, and the build of Keel that wrote it (a guard of another build
 * leaves the watch to that build's guard); and this node's primaries whose commits wait for the
 * WAL receiver ({@code letGo}, synchronous archiving), which the guard lets go as Keel would, after
 * {@code syncGrace}, while Keel does not run (on one node the receiver dies with it). Rewritten when
 * it changes; Keel's {@link Pulse}, which changes all the time and holds no secret, is a file of its
 * own. One class writes and reads both, so the two sides never disagree.
 */
record FenceWatch(String build, Duration fenceAfter, Path certificate, List<Server> servers, Duration syncGrace, List<Server> letGo) {
    /**
     * The format of the files; a guard that reads another exits, and Keel starts one that reads it
     * (2: {@code letGo} and the grace; a guard of format 1 would not let go what it does not read).
     */
    static final int FORMAT = 2;

    FenceWatch {
        servers = List.copyOf(servers);
        letGo = List.copyOf(letGo);
    }

    /**
     * A primary the guard fences, or whose commits it lets go: its data directory and WAL spool,
     * where it listens, its major, Keel's password on it, and the name of its standby (for
     * {@code letGo}: of what its commits wait for, the WAL receiver).
     */
    record Server(UUID instance, Path dataDir, Path spool, String host, int port, int major, String password, String standby) {
    }

    /**
     * Keel's pulse: when ({@link System#nanoTime}, the machine's monotonic clock, one for every
     * process of a boot) its node last reached the catalog, when its self-fence last wrote this,
     * which it does every T_fence/8 while it runs, whether that self-fence covers the primaries
     * of the watch (a Keel still starting does not yet), and when it last saw each primary vouched
     * for, by its standby's reply or by the standby's node ({@link StandbyVouches}): the guard counts
     * those as witnesses too, or it would fence a primary Keel keeps. And which primaries' commits
     * its synchronous archiving watches (lets go itself, should they wait too long): until it has
     * taken a primary in, the guard lets them go, even while Keel runs.
     */
    record Pulse(long contactNanos, long writtenNanos, boolean covers, Map<UUID, Long> witnessed, Set<UUID> watchesCommits) {
        Pulse {
            witnessed = Map.copyOf(witnessed);
            watchesCommits = Set.copyOf(watchesCommits);
        }

        String render() {
            Properties properties = properties("contact_nanos", Long.toString(contactNanos), "written_nanos", Long.toString(writtenNanos),
                    "covers", Boolean.toString(covers));
            witnessed.forEach((instance, at) -> properties.setProperty("witnessed." + instance, Long.toString(at)));
            watchesCommits.forEach(instance -> properties.setProperty("watches_commits." + instance, "true"));
            return FenceWatch.render(properties);
        }

        static Pulse parse(String text) {
            Properties properties = load(text);
            Map<UUID, Long> witnessed = new HashMap<>();
            Set<UUID> watchesCommits = new HashSet<>();
            for (String key : properties.stringPropertyNames()) {
                if (key.startsWith("witnessed.")) {
                    witnessed.put(UUID.fromString(key.substring("witnessed.".length())), Long.parseLong(properties.getProperty(key)));
                } else if (key.startsWith("watches_commits.")) {
                    watchesCommits.add(UUID.fromString(key.substring("watches_commits.".length())));
                }
            }
            return new Pulse(Long.parseLong(required(properties, "contact_nanos")), Long.parseLong(required(properties, "written_nanos")),
                    Boolean.parseBoolean(required(properties, "covers")), witnessed, watchesCommits);
        }

        /** The later of Keel's last witness of {@code instance} and the guard's own ({@code read}), null while neither has one. */
        Long witnessed(UUID instance, Long read) {
            Long keel = witnessed.get(instance);
            return keel == null ? read : read == null ? keel : Long.valueOf(Math.max(keel, read));
        }
    }

    /** The watch's text: sorted, with no date line, so that the same watch is the same text. */
    String render() {
        Properties properties = properties("format", Integer.toString(FORMAT), "build", build, "fence_after_millis",
                Long.toString(fenceAfter.toMillis()), "certificate", certificate.toString(), "sync_grace_millis",
                Long.toString(syncGrace.toMillis()));
        renderServers(properties, "server.", servers);
        renderServers(properties, "let_go.", letGo);
        return render(properties);
    }

    private static void renderServers(Properties properties, String kind, List<Server> servers) {
        for (int i = 0; i < servers.size(); i++) {
            Server server = servers.get(i);
            String prefix = kind + i + ".";
            properties.setProperty(prefix + "instance", server.instance().toString());
            properties.setProperty(prefix + "data", server.dataDir().toString());
            properties.setProperty(prefix + "spool", server.spool().toString());
            properties.setProperty(prefix + "host", server.host());
            properties.setProperty(prefix + "port", Integer.toString(server.port()));
            properties.setProperty(prefix + "major", Integer.toString(server.major()));
            properties.setProperty(prefix + "password", server.password());
            properties.setProperty(prefix + "standby", server.standby());
        }
    }

    /** The watch in {@code text}; an {@link IllegalArgumentException} when it is of another format or lacks a field. */
    static FenceWatch parse(String text) {
        Properties properties = load(text);
        if (!Integer.toString(FORMAT).equals(properties.getProperty("format"))) {
            throw new IllegalArgumentException("a watch of format " + properties.getProperty("format") + ", not " + FORMAT);
        }
        return new FenceWatch(required(properties, "build"), Duration.ofMillis(Long.parseLong(required(properties, "fence_after_millis"))),
                Path.of(required(properties, "certificate")), parseServers(properties, "server."),
                Duration.ofMillis(Long.parseLong(required(properties, "sync_grace_millis"))), parseServers(properties, "let_go."));
    }

    private static List<Server> parseServers(Properties properties, String kind) {
        List<Server> servers = new ArrayList<>();
        for (int i = 0; properties.containsKey(kind + i + ".instance"); i++) {
            String prefix = kind + i + ".";
            servers.add(new Server(UUID.fromString(required(properties, prefix + "instance")), Path.of(required(properties, prefix + "data")),
                    Path.of(required(properties, prefix + "spool")), required(properties, prefix + "host"),
                    Integer.parseInt(required(properties, prefix + "port")), Integer.parseInt(required(properties, prefix + "major")),
                    required(properties, prefix + "password"), required(properties, prefix + "standby")));
        }
        return servers;
    }

    private static Properties properties(String... pairs) {
        Properties properties = new Properties();
        for (int i = 0; i < pairs.length; i += 2) {
            properties.setProperty(pairs[i], pairs[i + 1]);
        }
        return properties;
    }

    private static String required(Properties properties, String key) {
        String value = properties.getProperty(key);
        if (value == null) {
            throw new IllegalArgumentException("no " + key);
        }
        return value;
    }

    private static String render(Properties properties) {
        StringWriter text = new StringWriter();
        try {
            properties.store(text, null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return text.toString().lines().filter(line -> !line.startsWith("#")).sorted().collect(Collectors.joining("\n", "", "\n"));
    }

    private static Properties load(String text) {
        Properties properties = new Properties();
        try {
            properties.load(new StringReader(text));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return properties;
    }
}
