package dev.keel.postgres;

import dev.keel.KeelHome;
import dev.keel.StartupException;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The OS accounts Postgres runs as. When Keel runs as root, every instance runs as an account of
 * its own ({@code keel-} and the first 12 hex digits of its id), made with the instance and
 * removed with it, so that a superuser escape in one database (COPY ... TO PROGRAM,
 * pg_read_binary_file) meets the OS's permissions before it reaches another database's files or
 * Keel's; the embedded catalog runs as {@code keel.postgres.os-user}, else {@code postgres} if
 * it exists, else a {@code keel} system account. When Keel is not root, everything runs as
 * Keel's own account.
 */
@Singleton
public final class ServerAccounts {
    private static final Logger LOG = LoggerFactory.getLogger(ServerAccounts.class);
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final String PREFIX = "keel-";
    private static final Path PASSWD = Path.of("/etc/passwd");
    private static final int PASSWD_LOCKED = 10;
    private static final int LOCK_ATTEMPTS = 50;

    private final boolean perInstance;
    private final Path serverDir;
    private static final String TOOLS_ACCOUNT = "keel-tools";
    /** useradd's exit status for a name that exists already. */
    private static final int NAME_IN_USE = 9;
    private static final UUID TOOLS = new UUID(0, 0);

    private final ServerUser catalog;
    private final Map<UUID, ServerUser> known = new ConcurrentHashMap<>();

    ServerAccounts(PostgresConfig config, KeelHome home) {
        this.perInstance = KeelHome.runsAsRoot();
        this.serverDir = home.serverDir();
        if (!perInstance) {
            this.catalog = ServerUser.self();
            return;
        }
        if (!Files.isExecutable(Path.of("/usr/bin/setpriv")) && !Files.isExecutable(Path.of("/bin/setpriv"))) {
            throw new StartupException("Keel runs as root and needs setpriv (util-linux) to start Postgres as unprivileged users;"
                    + " install util-linux or run Keel as an unprivileged user.");
        }
        this.catalog = lookup(chooseCatalogAccount(config.getOsUser()))
                .orElseThrow(() -> new StartupException("the catalog's OS account vanished while Keel started"));
    }

    /** Whether each instance runs as an account of its own (Keel runs as root). */
    public boolean perInstance() {
        return perInstance;
    }

    /** The account the embedded catalog runs as. */
    public ServerUser catalog() {
        return catalog;
    }

    /**
     * The account client programs (pg_dump, pg_restore, psql) and PgBouncer run as: neither root
     * nor any server's, so a dump or a pooler that a tenant's input subverts reaches no server's
     * files. One for this server directory, made now if it does not exist yet; Keel's own account
     * when Keel does not run as root.
     */
    public ServerUser tools() {
        if (!perInstance) {
            return catalog;
        }
        return known.computeIfAbsent(TOOLS, key -> lookup(TOOLS_ACCOUNT).orElseGet(() -> {
            // Not "in <server dir>": the orphan sweep of instance accounts must never take it.
            create(TOOLS_ACCOUNT, "Keel client tools and poolers", false);
            return lookup(TOOLS_ACCOUNT).orElseThrow(() -> new IllegalStateException("useradd made no account " + TOOLS_ACCOUNT));
        }));
    }

    /** The account of instance {@code id}, made now if it does not exist yet. */
    public ServerUser forInstance(UUID id) {
        if (!perInstance) {
            return catalog;
        }
        return known.computeIfAbsent(id, key -> {
            String name = accountName(key);
            return lookup(name).orElseGet(() -> {
                create(name, "Keel instance " + key + " in " + serverDir, true);
                return lookup(name).orElseThrow(() -> new IllegalStateException("useradd made no account " + name));
            });
        });
    }

    /** Removes instance {@code id}'s account (its processes must be gone); nothing if there is none. */
    public void remove(UUID id) {
        if (!perInstance) {
            return;
        }
        known.remove(id);
        String name = accountName(id);
        if (lookup(name).isEmpty()) {
            return;
        }
        try {
            accountCommand(List.of("userdel", name));
        } catch (CommandFailedException e) {
            // Left for the orphan sweep of the next start; it owns nothing once its instance's directory is gone.
            LOG.warn("Could not remove the OS account {} of instance {}: {}", name, id, e.getMessage());
        }
    }

    /**
     * The instance accounts this Keel made (their comment names its server directory), by name,
     * for the orphan sweep: other Keels on this machine have accounts of their own.
     */
    public List<String> instanceAccounts() {
        if (!perInstance) {
            return List.of();
        }
        String mark = " in " + serverDir;
        return passwd().stream().map(line -> line.split(":", -1)).filter(f -> f.length >= 5 && f[0].startsWith(PREFIX) && f[4].endsWith(mark))
                .map(f -> f[0]).toList();
    }

    /** Removes the account {@code name} of an instance that is gone. */
    public void removeAccount(String name) {
        if (!name.startsWith(PREFIX)) {
            throw new IllegalArgumentException(name + " is not an instance account");
        }
        known.values().removeIf(user -> user.name().equals(name));
        try {
            accountCommand(List.of("userdel", name));
        } catch (CommandFailedException e) {
            LOG.warn("Could not remove the OS account {}: {}", name, e.getMessage());
        }
    }

    /** The account name of instance {@code id}. */
    public static String accountName(UUID id) {
        return PREFIX + id.toString().replace("-", "").substring(0, 12);
    }

    private static String chooseCatalogAccount(String configured) {
        if (!configured.isBlank()) {
            if (lookup(configured).isEmpty()) {
                throw new StartupException("keel.postgres.os-user '" + configured + "' does not exist; create it or unset KEEL_POSTGRES_OS_USER.");
            }
            return configured;
        }
        if (lookup("postgres").isPresent()) {
            return "postgres";
        }
        if (lookup("keel").isEmpty()) {
            try {
                create("keel", "Keel catalog", false);
            } catch (RuntimeException e) {
                throw new StartupException("Keel runs as root and could not create the unprivileged user 'keel' for Postgres ("
                        + e.getMessage() + "); create a user and set KEEL_POSTGRES_OS_USER, or run Keel as a non-root user.");
            }
        }
        return "keel";
    }

    /**
     * Makes an account without a home or a login shell. Instance accounts take ids from a range of
     * their own (20000-59999), not the few hundred system ids, which many databases would use up.
     */
    private static void create(String name, String comment, boolean instance) {
        List<String> command = new ArrayList<>(List.of("useradd", "--user-group", "--no-create-home", "--home-dir",
                "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment", comment));
        if (instance) {
            command.addAll(List.of("-K", "UID_MIN=20000", "-K", "UID_MAX=59999", "-K", "GID_MIN=20000", "-K", "GID_MAX=59999"));
        } else {
            command.add("--system");
        }
        command.add(name);
        try {
            accountCommand(command);
        } catch (CommandFailedException e) {
            // Another Keel on this machine made the same shared account a moment ago: it is there, as wanted.
            if (e.exitCode() != NAME_IN_USE || lookup(name).isEmpty()) {
                throw e;
            }
        }
    }

    /**
     * Runs useradd or userdel: one at a time in this JVM, and again after a moment when another
     * process holds the lock on /etc/passwd (exit status 10).
     */
    private static void accountCommand(List<String> command) {
        synchronized (ServerAccounts.class) {
            for (int attempt = 1; ; attempt++) {
                try {
                    Commands.run(command, TIMEOUT);
                    return;
                } catch (CommandFailedException e) {
                    if (attempt >= LOCK_ATTEMPTS || e.exitCode() != PASSWD_LOCKED) {
                        throw e;
                    }
                }
                try {
                    Thread.sleep(20L * attempt);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for the lock on /etc/passwd", e);
                }
            }
        }
    }

    /** The account {@code name} as /etc/passwd has it (no process per look-up: this is on the provisioning path). */
    private static Optional<ServerUser> lookup(String name) {
        for (String line : passwd()) {
            String[] fields = line.split(":");
            if (fields.length >= 4 && fields[0].equals(name)) {
                return Optional.of(ServerUser.account(name, Integer.parseInt(fields[2]), Integer.parseInt(fields[3])));
            }
        }
        return Optional.empty();
    }

    private static List<String> passwd() {
        try {
            return Files.readAllLines(PASSWD);
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + PASSWD, e);
        }
    }
}
