package dev.keel.postgres;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;

/**
 * The postmaster of a data directory, found through its {@code postmaster.pid}. Used where no
 * pg_ctl of the right version is at hand or pg_ctl gave up: stopping by signal works for every
 * major.
 */
public final class Postmaster {
    private Postmaster() {
    }

    /** The pid of the live postmaster serving {@code dataDir}, if there is one. */
    public static OptionalLong pid(Path dataDir) {
        Path pidFile = dataDir.resolve("postmaster.pid");
        try {
            if (!Files.isRegularFile(pidFile)) {
                return OptionalLong.empty();
            }
            List<String> lines = Files.readAllLines(pidFile);
            if (lines.size() < 2) {
                return OptionalLong.empty();
            }
            long pid = Long.parseLong(lines.get(0).strip());
            // Guard against a stale pid file whose pid now belongs to another process, and against one
            // the directory's account wrote to name another account's server: the process must be a
            // postgres of the account that owns the directory.
            String owner = Files.getOwner(dataDir, LinkOption.NOFOLLOW_LINKS).getName();
            boolean postgres = ProcessHandle.of(pid)
                    .map(ProcessHandle::info)
                    .filter(info -> info.command().map(command -> command.endsWith("postgres")).orElse(false))
                    .filter(info -> info.user().map(owner::equals).orElse(false))
                    .isPresent();
            return postgres && isLive(pid) ? OptionalLong.of(pid) : OptionalLong.empty();
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    public static boolean isRunning(Path dataDir) {
        return pid(dataDir).isPresent();
    }

    /**
     * Stops the postmaster of {@code dataDir}: fast shutdown (SIGINT), then immediate (SIGQUIT),
     * then SIGKILL of the postmaster and its children. Returns once it is gone.
     */
    public static void stop(Path dataDir, Duration patience) {
        OptionalLong found = pid(dataDir);
        if (found.isEmpty()) {
            return;
        }
        long pid = found.getAsLong();
        ProcessHandle handle = ProcessHandle.of(pid).orElse(null);
        if (handle == null) {
            return;
        }
        for (String signal : List.of("INT", "QUIT")) {
            signal(pid, signal);
            if (waitForExit(handle, patience)) {
                return;
            }
        }
        handle.descendants().forEach(ProcessHandle::destroyForcibly);
        handle.destroyForcibly();
        waitForExit(handle, patience);
    }

    /**
     * Kills every postmaster of {@code dataDir} and all their children at once (SIGKILL, which a
     * stopped process gets too), without a shutdown: fencing a primary that hangs or lost its data
     * directory. Postmasters are found through the pid file and, should it be gone, through the
     * {@code -D} of their command lines. Returns once they are gone.
     */
    public static void kill(Path dataDir, String account, Duration patience) {
        Set<ProcessHandle> postmasters = new HashSet<>();
        pid(dataDir).ifPresent(pid -> ProcessHandle.of(pid).ifPresent(postmasters::add));
        String directory = dataDir.toAbsolutePath().normalize().toString();
        ProcessHandle.allProcesses().filter(p -> p.info().command().map(c -> c.endsWith("/postgres")).orElse(false))
                .filter(p -> p.info().user().map(account::equals).orElse(false))
                .filter(p -> p.info().arguments().map(args -> servesDirectory(args, directory)).orElse(false))
                .forEach(postmasters::add);
        // The postmaster first, so that it reacts to no child's death and forks nothing more; then its children as they
        // were just before (a backend left alive could still commit).
        for (ProcessHandle postmaster : postmasters) {
            List<ProcessHandle> children = postmaster.descendants().toList();
            postmaster.destroyForcibly();
            children.forEach(ProcessHandle::destroyForcibly);
        }
        for (ProcessHandle postmaster : postmasters) {
            if (!waitForExit(postmaster, patience)) {
                throw new IllegalStateException("postmaster " + postmaster.pid() + " of " + dataDir + " survived SIGKILL for " + patience);
            }
        }
    }

    private static boolean servesDirectory(String[] arguments, String directory) {
        for (int i = 0; i + 1 < arguments.length; i++) {
            if (arguments[i].equals("-D") && Path.of(arguments[i + 1]).toAbsolutePath().normalize().toString().equals(directory)) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code dataDir} still looks like a data directory a postmaster can start on (its control file is there). */
    public static boolean intact(Path dataDir) {
        return Files.isRegularFile(dataDir.resolve("global").resolve("pg_control")) && Files.isRegularFile(dataDir.resolve("PG_VERSION"));
    }

    private static void signal(long pid, String signal) {
        try {
            Commands.run(List.of("kill", "-" + signal, Long.toString(pid)), Duration.ofSeconds(10));
        } catch (CommandFailedException e) {
            // it exited in between
        }
    }

    private static boolean waitForExit(ProcessHandle handle, Duration patience) {
        Instant deadline = Instant.now().plus(patience);
        while (isLive(handle.pid()) && Instant.now().isBefore(deadline)) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return !isLive(handle.pid());
    }

    /**
     * Whether {@code pid} runs. A postmaster that exited stays a zombie until init reaps it, which
     * some inits do only every second or so, and {@link ProcessHandle#isAlive} counts zombies as alive.
     */
    static boolean isLive(long pid) {
        Path stat = Path.of("/proc", Long.toString(pid), "stat");
        try {
            String text = Files.readString(stat);
            char state = text.charAt(text.lastIndexOf(')') + 2);
            return state != 'Z' && state != 'X';
        } catch (IOException | RuntimeException e) {
            return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
        }
    }
}
