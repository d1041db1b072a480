package dev.keel.instances;

import dev.keel.FileTrees;
import dev.keel.KeelHome;
import dev.keel.PrivateFiles;
import dev.keel.postgres.CommandFailedException;
import dev.keel.postgres.HbaRule;
import dev.keel.postgres.Installation;
import dev.keel.postgres.PostgresBinaries;
import dev.keel.postgres.Postmaster;
import dev.keel.postgres.ServerCommands;
import dev.keel.postgres.ServerAccounts;
import dev.keel.postgres.ServerFiles;
import dev.keel.postgres.ServerUser;
import dev.keel.tls.CertificateAuthority;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.NoSuchFileException;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Instances as Postgres processes on this machine, each in {@code <server dir>/instances/<id>/}
 * ({@code data/}, {@code postgresql.log}, the {@code keel-archive} script and its {@code spool/}),
 * owned by the instance's own OS account when Keel runs as root ({@link ServerAccounts}). That
 * account may write there, so Keel (root) never follows a link inside it: files are written new
 * and renamed into place, and read without following links. Instances set aside go to
 * {@code <server dir>/orphans/<id>-<millis>/}, and their accounts go.
 */
@Singleton
final class LocalInstanceRuntime implements InstanceRuntime {
    private static final Duration STOP_PATIENCE = Duration.ofSeconds(30);
    private static final Logger LOG = LoggerFactory.getLogger(LocalInstanceRuntime.class);

    private static final String ARCHIVE_SCRIPT = "keel-archive";
    private static final String RESTORE_SCRIPT = "keel-restore";
    private static final String FAILED = "failed";
    private static final String WANTED = ".wanted";

    private final Path root;
    private final Path orphans;
    private final int spoolMaxFiles;
    private final PostgresBinaries binaries;
    private final ServerCommands commands;
    private final ServerAccounts accounts;
    private final CertificateAuthority authority;

    LocalInstanceRuntime(KeelHome home, PostgresBinaries binaries, ServerCommands commands, ServerAccounts accounts,
                         CertificateAuthority authority, @Value("${keel.archive.spool-max-files}") int spoolMaxFiles) {
        this.spoolMaxFiles = spoolMaxFiles;
        this.root = home.serverDir().resolve("instances");
        this.orphans = home.serverDir().resolve("orphans");
        this.binaries = binaries;
        this.commands = commands;
        this.accounts = accounts;
        this.authority = authority;
        try {
            Files.createDirectories(root);
            // Each instance's account may search its way to its own directory (0700), and list nothing.
            Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwx--x--x"));
        } catch (IOException e) {
            throw new UncheckedIOException("could not create " + root, e);
        }
        accounts.catalog().checkReachable(root);
    }

    private ServerUser user(UUID id) {
        return accounts.forInstance(id);
    }

    private Path dir(UUID id) {
        return root.resolve(id.toString());
    }

    private Path dataDir(UUID id) {
        return dir(id).resolve("data");
    }

    @Override
    public ServerFence.Target fenceTarget(Instance instance) {
        return new ServerFence.Target(dataDir(instance.id()), spool(instance.id()));
    }

    /** The name of a server's log in its directory. */
    static final String LOG_FILE = "postgresql.log";

    /** The server log of an instance on this machine. */
    Path logFile(UUID id) {
        return dir(id).resolve(LOG_FILE);
    }

    /** The directory that holds each instance's directory on this machine. */
    Path instancesDir() {
        return root;
    }

    @Override
    public void create(InstanceSpec spec) {
        UUID id = spec.instance().id();
        destroy(id);
        Installation installation = binaries.installation(spec.instance().major());
        ServerUser user = user(id);
        user.createPrivateDirectory(dir(id));
        Path data = dataDir(id);
        commands.initdb(user, installation, data, InstanceConfig.SUPERUSER, spec.superuserPassword());
        configureNew(spec.instance(), spec.settings(), spec.hba());
        ServerFiles.writeTls(data, spec.certificate().certificatePem(), spec.certificate().privateKeyPem(), authority.certificatePem(),
                user);
    }

    @Override
    public void restore(InstanceSpec spec, RecoverySignal signal, Fill fill) throws IOException {
        UUID id = spec.instance().id();
        destroy(id);
        ServerUser user = user(id);
        user.createPrivateDirectory(dir(id));
        // The exchange first: WAL may be offered while the data directory is still being written.
        user.createPrivateDirectory(exchange(id));
        PrivateFiles.writeExecutable(dir(id).resolve(RESTORE_SCRIPT), RestoreScript.render(exchange(id).toString()));
        Path data = dataDir(id);
        fill.into(DataDirectorySink.at(data));
        user.ownTree(data);
        configureNew(spec.instance(), spec.settings(), spec.hba());
        ServerFiles.writeTls(data, spec.certificate().certificatePem(), spec.certificate().privateKeyPem(), authority.certificatePem(),
                user);
        PrivateFiles.write(data.resolve(signal.file()), "", user::own);
    }

    /** Where {@code restore_command} and Keel exchange WAL while the instance recovers. */
    private Path exchange(UUID id) {
        return dir(id).resolve("restore");
    }

    @Override
    public List<String> wantedWal(Instance instance) {
        Path exchange = exchange(instance.id());
        List<String> wanted = new ArrayList<>();
        try (Stream<Path> entries = Files.list(exchange)) {
            entries.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(WANTED))
                    .map(n -> n.substring(0, n.length() - WANTED.length()))
                    .filter(n -> !Files.exists(exchange.resolve(n)) && !Files.exists(exchange.resolve(n + ".missing")))
                    .forEach(wanted::add);
        } catch (NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw new UncheckedIOException("could not list " + exchange, e);
        }
        return wanted;
    }

    @Override
    public void offerWal(Instance instance, String name, byte[] bytes) throws IOException {
        PrivateFiles.writeTransient(exchange(instance.id()).resolve(name), bytes, user(instance.id())::own);
    }

    @Override
    public void refuseWal(Instance instance, String name) throws IOException {
        PrivateFiles.write(exchange(instance.id()).resolve(name + ".missing"), "", user(instance.id())::own);
    }

    @Override
    public void abortRecovery(Instance instance, String reason) throws IOException {
        PrivateFiles.write(exchange(instance.id()).resolve(FAILED), reason.replace('\n', ' ') + "\n", user(instance.id())::own);
    }

    @Override
    public void endRecovery(Instance instance) {
        FileTrees.delete(exchange(instance.id()));
        try {
            Files.deleteIfExists(dir(instance.id()).resolve(RESTORE_SCRIPT));
        } catch (IOException e) {
            throw new UncheckedIOException("could not remove the restore command of instance " + instance.id(), e);
        }
    }

    @Override
    public void startRecovering(Instance instance, Map<String, String> options) {
        commands.startDetached(handedOver(instance), binaries.installation(instance.major()), dataDir(instance.id()),
                logFile(instance.id()), options);
    }

    @Override
    public List<String> logTail(Instance instance, int lines) {
        Path log = logFile(instance.id());
        // The account owns the directory and could put a link here: read the file itself, never a link's target.
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(Files.newInputStream(log, LinkOption.NOFOLLOW_LINKS),
                StandardCharsets.UTF_8))) {
            ArrayDeque<String> tail = new ArrayDeque<>(lines);
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                if (tail.size() == lines) {
                    tail.removeFirst();
                }
                tail.addLast(line);
            }
            return lines == 0 ? List.of() : List.copyOf(tail);
        } catch (NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + log, e);
        }
    }

    @Override
    public LogBytes readLog(Instance instance, long offset, int length) {
        return LogSource.file(logFile(instance.id())).read(offset, length);
    }

    @Override
    public void configure(Instance instance, Map<String, String> settings, List<HbaRule> hba) {
        Path data = dataDir(instance.id());
        Path spool = spool(instance.id());
        try {
            if (!Files.isDirectory(spool, LinkOption.NOFOLLOW_LINKS)) {
                user(instance.id()).createPrivateDirectory(spool);
            }
            PrivateFiles.writeExecutable(dir(instance.id()).resolve(ARCHIVE_SCRIPT), ArchiveScript.render(spool.toString(), spoolMaxFiles));
        } catch (UncheckedIOException e) {
            throw new UncheckedIOException("could not install the archive command of instance " + instance.id(), e.getCause());
        }
        Map<String, String> withArchiving = new LinkedHashMap<>(settings);
        withArchiving.put("archive_command", ArchiveScript.shellQuote(dir(instance.id()).resolve(ARCHIVE_SCRIPT).toString()) + " \"%p\" \"%f\"");
        if (Files.isDirectory(exchange(instance.id()))) {
            withArchiving.put("restore_command", ArchiveScript.shellQuote(dir(instance.id()).resolve(RESTORE_SCRIPT).toString())
                    + " \"%f\" \"%p\"");
        }
        // What heroku pg:extensions lists as creatable (it reads Heroku's extension whitelist settings).
        String trusted = String.join(",", binaries.installation(instance.major()).trustedExtensions());
        withArchiving.put("extwlist.extensions", trusted);
        withArchiving.put("rds.allowed_extensions", trusted);
        ServerFiles.replaceConfiguration(data, withArchiving, hba, user(instance.id()));
    }

    /** As {@link #configure}, for a server that has never run: it has no files to go back to. */
    private void configureNew(Instance instance, Map<String, String> settings, List<HbaRule> hba) {
        configure(instance, settings, hba);
        ServerFiles.forgetPrevious(dataDir(instance.id()));
    }

    @Override
    public boolean restoreConfiguration(Instance instance) {
        return ServerFiles.restorePrevious(dataDir(instance.id()));
    }

    @Override
    public boolean settleConfiguration(Instance instance) {
        return ServerFiles.settleKept(dataDir(instance.id()));
    }

    @Override
    public void acceptConfiguration(Instance instance) {
        ServerFiles.forgetPrevious(dataDir(instance.id()));
    }

    private Path spool(UUID id) {
        return dir(id).resolve("spool");
    }

    @Override
    public List<SpooledWal> spooledWal(Instance instance) {
        Path spool = spool(instance.id());
        if (!Files.isDirectory(spool)) {
            return List.of();
        }
        List<SpooledWal> files = new ArrayList<>();
        try (Stream<Path> entries = Files.list(spool)) {
            for (Path file : (Iterable<Path>) entries::iterator) {
                String name = file.getFileName().toString();
                if (name.startsWith(".")) {
                    continue;
                }
                try {
                    var attributes = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                    if (!attributes.isRegularFile()) {
                        continue;
                    }
                    files.add(new SpooledWal(name, attributes.size(), attributes.lastModifiedTime().toInstant()));
                } catch (NoSuchFileException e) {
                    // removed meanwhile
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not list " + spool, e);
        }
        files.sort(Comparator.comparing(SpooledWal::completedAt).thenComparing(SpooledWal::name));
        return files;
    }

    @Override
    public InputStream openSpooledWal(Instance instance, String name) throws IOException {
        return Files.newInputStream(spool(instance.id()).resolve(name), LinkOption.NOFOLLOW_LINKS);
    }

    @Override
    public void removeSpooledWal(Instance instance, String name) {
        try {
            Files.deleteIfExists(spool(instance.id()).resolve(name));
        } catch (IOException e) {
            throw new UncheckedIOException("could not remove " + name + " from the spool of instance " + instance.id(), e);
        }
    }

    @Override
    public List<DataFile> dataFiles(Instance instance) {
        Path data = dataDir(instance.id());
        List<DataFile> files = new ArrayList<>();
        try {
            Files.walkFileTree(data, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                    if (!dir.equals(data)) {
                        files.add(new DataFile(data.relativize(dir).toString(), 0, true));
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                    if (attrs.isRegularFile()) {
                        files.add(new DataFile(data.relativize(file).toString(), attrs.size(), false));
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                    if (e instanceof NoSuchFileException) {
                        return FileVisitResult.CONTINUE; // vanished while listed: it needs no copy
                    }
                    throw e;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("could not list " + data, e);
        }
        files.sort(Comparator.comparing(DataFile::path));
        return files;
    }

    @Override
    public InputStream openDataFile(Instance instance, String path) throws IOException {
        Path data = dataDir(instance.id());
        Path file = data.resolve(path).normalize();
        if (!file.startsWith(data)) {
            throw new IOException(path + " is outside the data directory");
        }
        return Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * The instance's account, which must own its data directory before its server starts: an
     * instance made before Keel ran each instance as its own account moves to its own at its
     * next start.
     */
    private ServerUser handedOver(Instance instance) {
        ServerUser user = user(instance.id());
        if (!user.owns(dataDir(instance.id())) && !Postmaster.isRunning(dataDir(instance.id()))) {
            LOG.info("Instance {} moves to its own OS account {}", instance.id(), user.name());
            user.ownTree(dir(instance.id()));
        }
        return user;
    }

    @Override
    public void start(Instance instance) {
        try {
            commands.start(handedOver(instance), binaries.installation(instance.major()), dataDir(instance.id()), logFile(instance.id()));
        } catch (CommandFailedException e) {
            // pg_ctl says only "could not start server; examine the log output": the log says why.
            LOG.error("Instance {} did not start; the end of its server log:\n  {}", instance.id(),
                    String.join("\n  ", logTail(instance, 20)));
            throw e;
        }
    }

    @Override
    public void stop(Instance instance) {
        commands.stop(user(instance.id()), binaries.installation(instance.major()), dataDir(instance.id()));
    }

    @Override
    public void destroy(UUID instanceId) {
        // By signal rather than pg_ctl: works whatever state the directory is in and needs no binaries.
        Postmaster.stop(dataDir(instanceId), STOP_PATIENCE);
        FileTrees.delete(dir(instanceId));
        accounts.remove(instanceId);
    }

    @Override
    public String setAside(UUID instanceId) {
        Postmaster.stop(dataDir(instanceId), STOP_PATIENCE);
        Path target = orphans.resolve(instanceId + "-" + System.currentTimeMillis());
        try {
            Files.createDirectories(orphans);
            Files.setPosixFilePermissions(orphans, PosixFilePermissions.fromString("rwx------"));
            Files.move(dir(instanceId), target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("could not move " + dir(instanceId) + " to " + target, e);
        }
        // Kept for an operator (root), not for the account, which goes with the instance.
        accounts.remove(instanceId);
        return target.toString();
    }

    @Override
    public void fence(Instance instance) {
        String unsalvaged = ServerFence.fence(fenceTarget(instance), user(instance.id()).name(), user(instance.id())::own, STOP_PATIENCE);
        if (unsalvaged != null) {
            // The fence stands regardless; the archive may lack what the killed server had not handed off.
            LOG.error("Fenced instance {}, but could not hand its unarchived WAL to its spool: {}", instance.id(), unsalvaged);
        }
    }

    @Override
    public void startOnTimelineAfter(Instance instance, int after) {
        Installation installation = binaries.installation(instance.major());
        Path data = dataDir(instance.id());
        ServerUser user = user(instance.id());
        commands.stop(user, installation, data);
        Timelines.claim(data, after, user::own);
        commands.startDetached(user, installation, data, logFile(instance.id()), Timelines.RECOVERY_OPTIONS);
        Timelines.awaitPromotion(data, after);
        commands.stop(user, installation, data);
        Timelines.release(data, after, user::own);
        commands.start(user, installation, data, logFile(instance.id()));
    }

    @Override
    public boolean intact(Instance instance) {
        return Postmaster.intact(dataDir(instance.id()));
    }

    @Override
    public boolean isRunning(Instance instance) {
        return Postmaster.isRunning(dataDir(instance.id()));
    }

    @Override
    public Set<UUID> held() {
        Set<UUID> ids = new HashSet<>();
        try (Stream<Path> dirs = Files.list(root)) {
            dirs.forEach(dir -> {
                try {
                    ids.add(UUID.fromString(dir.getFileName().toString()));
                } catch (IllegalArgumentException e) {
                    // not an instance directory
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("could not list " + root, e);
        }
        return ids;
    }

    @Override
    public void sweepLeftovers() {
        Set<String> needed = new HashSet<>();
        held().forEach(id -> needed.add(ServerAccounts.accountName(id)));
        for (String account : accounts.instanceAccounts()) {
            if (!needed.contains(account)) {
                LOG.info("Removing OS account {}: it belonged to an instance that is gone", account);
                accounts.removeAccount(account);
            }
        }
    }
}
