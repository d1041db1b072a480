package dev.keel.testing;

import dev.keel.KeelHome;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.sql.Connection;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What Keel left on this machine for a data directory, read from the OS rather than from Keel:
 * instance directories, live postmasters (by their {@code -D} argument), and whether a port is
 * free. Orphan checks compare these against what the API says exists.
 */
public final class Footprint {
    private Footprint() {
    }

    /** Names of the directories under {@code <data dir>/instances}. */
    public static Set<String> instanceDirs(Path dataDir) {
        Path root = KeelHome.serverDirOf(dataDir).resolve("instances");
        if (!Files.isDirectory(root)) {
            return Set.of();
        }
        try (Stream<Path> dirs = Files.list(root)) {
            return dirs.map(d -> d.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Data directories of running postmasters under {@code <data dir>/instances}. */
    public static Set<String> runningInstanceDataDirs(Path dataDir) {
        String prefix = KeelHome.serverDirOf(dataDir).resolve("instances").toString();
        return ProcessHandle.allProcesses()
                .filter(p -> p.info().command().map(c -> c.endsWith("/postgres")).orElse(false))
                .map(p -> p.info().arguments().map(List::of).orElse(List.of()))
                .filter(args -> args.size() >= 2 && args.get(0).equals("-D") && args.get(1).startsWith(prefix))
                .map(args -> args.get(1))
                .collect(Collectors.toCollection(TreeSet::new));
    }

    /** The data directory of the running postmaster listening on {@code port}, under {@code <data dir>/instances}. */
    public static String dataDirServing(Path dataDir, int port) {
        return runningInstanceDataDirs(dataDir).stream()
                .filter(dir -> {
                    try {
                        // postmaster.pid's fourth line is the port.
                        return Integer.parseInt(Files.readAllLines(Path.of(dir, "postmaster.pid")).get(3).strip()) == port;
                    } catch (IOException | RuntimeException e) {
                        return false;
                    }
                })
                .findFirst().orElseThrow(() -> new AssertionError("no instance server listens on " + port));
    }

    /** A connection to the embedded catalog of a data directory, as its catalog.properties says (tests read Keel's rows). */
    public static java.sql.Connection catalog(Path dataDir) throws java.sql.SQLException {
        java.util.Properties catalog = new java.util.Properties();
        try {
            catalog.load(new java.io.StringReader(Files.readString(dataDir.resolve("catalog.properties"))));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return java.sql.DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + catalog.getProperty("port") + "/keel", "keel",
                catalog.getProperty("password"));
    }

    /** The pid of the embedded S3 server Keel started for a data directory. */
    public static long s3ProxyPid(Path dataDir) {
        try {
            return Long.parseLong(Files.readString(dataDir.resolve("s3/s3proxy.pid")).strip());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** SIGTERM to a process the test started, and SIGKILL if it has not exited within {@link Timeouts#PROCESS_EXIT}. */
    public static void stop(Process process) {
        process.destroy();
        try {
            if (!process.waitFor(Timeouts.PROCESS_EXIT.toSeconds(), TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Kills the postmaster of data directory {@code data} with SIGKILL, as its host's loss would,
     * and waits until the port of {@code url} refuses connections.
     */
    public static void killServer(Path data, String url) throws IOException {
        long pid = Long.parseLong(Files.readAllLines(data.resolve("postmaster.pid")).get(0).strip());
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        Wait.until("the server's port " + Pg.port(url) + " to refuse", Timeouts.PROCESS_EXIT, () -> {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(URI.create(url).getHost(), Pg.port(url)), 200);
                return false;
            } catch (IOException e) {
                return true;
            }
        });
    }

    /** Sends {@code signal} ("STOP", "CONT", ...) to {@code pid}. */
    public static void signal(String signal, long pid) {
        int exit = kill(signal, pid);
        if (exit != 0) {
            throw new AssertionError("kill -" + signal + " " + pid + " exited with " + exit);
        }
    }

    /**
     * Hangs a whole server: SIGSTOP to its postmaster first, so that it forks no child after its
     * children are listed, then to each of its processes; one that ended meanwhile (a backend,
     * archive_command's shell) needs none. Returns the processes stopped, the postmaster first.
     */
    public static List<Long> stopServer(long postmaster) {
        signal("STOP", postmaster);
        List<Long> stopped = new ArrayList<>(List.of(postmaster));
        for (ProcessHandle child : ProcessHandle.of(postmaster).orElseThrow().descendants().toList()) {
            if (kill("STOP", child.pid()) == 0) {
                stopped.add(child.pid());
            } else if (child.isAlive()) {
                throw new AssertionError("kill -STOP did not reach process " + child.pid() + " of the server of postmaster " + postmaster);
            }
        }
        return stopped;
    }

    /**
     * Undoes {@link #stopServer}: SIGCONT to the postmaster and every process of it, listed while
     * they are all still stopped, in one {@code kill}, so that neither a process that ended meanwhile
     * nor an interrupt leaves another stopped. Fails if one is still stopped afterwards.
     */
    public static void resumeServer(long postmaster) {
        List<Long> pids = new ArrayList<>(List.of(postmaster));
        ProcessHandle.of(postmaster).ifPresent(p -> p.descendants().forEach(child -> pids.add(child.pid())));
        kill("CONT", pids);
        List<Long> stopped = pids.stream().filter(Footprint::isStopped).toList();
        if (!stopped.isEmpty()) {
            throw new AssertionError("processes " + stopped + " of the server of postmaster " + postmaster + " are still stopped");
        }
    }

    /** Whether {@code pid} is stopped by a signal (state T in /proc); false once it ended. */
    private static boolean isStopped(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.substring(stat.lastIndexOf(')') + 2).startsWith("T");
        } catch (IOException e) {
            return false;
        }
    }

    private static int kill(String signal, long pid) {
        return kill(signal, List.of(pid));
    }

    /**
     * {@code kill -<signal>} of every one of {@code pids} in one process, waited for to its end: an
     * interrupt does not cut the wait short (a check that follows must see the signals sent), and is
     * kept for the caller. Its exit code: not 0 when one of them could not be signalled.
     */
    private static int kill(String signal, List<Long> pids) {
        List<String> command = new ArrayList<>(List.of("kill", "-" + signal));
        pids.forEach(pid -> command.add(Long.toString(pid)));
        Process kill;
        try {
            kill = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return kill.waitFor();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    public static boolean portIsFree(int port) {
        return dev.keel.postgres.PortRange.bindable("127.0.0.1", port);
    }

    /**
     * What the OS shows matches what the API says: one instance directory with a live postmaster
     * per available database, none for failed ones, and every available database connects.
     */
    public static void assertMatchesApi(Api api, Path dataDir) throws Exception {
        JsonNode databases = api.get("/v1/databases").json();
        int available = 0;
        for (JsonNode db : databases) {
            if (db.get("state").asText().equals("available")) {
                available++;
                try (Connection connection = Pg.connect(db.get("url").asText(), dataDir.resolve("ca.pem"))) {
                    assertThat(Pg.scalar(connection, "select 1")).isEqualTo("1");
                }
            }
        }
        Set<String> dirs = Footprint.instanceDirs(dataDir);
        Set<String> running = Footprint.runningInstanceDataDirs(dataDir);
        assertThat(dirs).hasSize(available);
        assertThat(running).hasSize(available);
        for (String dir : dirs) {
            assertThat(running).contains(KeelHome.serverDirOf(dataDir).resolve("instances").resolve(dir).resolve("data").toString());
        }
    }
}
