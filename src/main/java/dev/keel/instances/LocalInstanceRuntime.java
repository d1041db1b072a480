package dev.keel.instances;

import dev.keel.FileTrees;
import dev.keel.KeelHome;
import dev.keel.postgres.HbaRule;
import dev.keel.postgres.Installation;
import dev.keel.postgres.PostgresBinaries;
import dev.keel.postgres.Postmaster;
import dev.keel.postgres.ServerCommands;
import dev.keel.postgres.ServerFiles;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Instances as Postgres processes on this machine, each in {@code <data dir>/instances/<id>/}
 * ({@code data/}, {@code postgresql.log}, the {@code keel-archive} script and its {@code spool/}),
 * owned by the server user. Instances set aside go to
 * {@code <data dir>/orphans/<id>-<millis>/}.
 */
@Singleton
final class LocalInstanceRuntime implements InstanceRuntime {
    private static final Duration STOP_PATIENCE = Duration.ofSeconds(30);
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(LocalInstanceRuntime.class);

    private static final String ARCHIVE_SCRIPT = "keel-archive";
    private static final String RESTORE_SCRIPT = "keel-restore";
    private static final String FAILED = "failed";
    private static final String WANTED = ".wanted";

    private final Path root;
    private final Path orphans;
    private final int spoolMaxFiles;
    private final PostgresBinaries binaries;
    private final ServerCommands commands;
    private final dev.keel.tls.CertificateAuthority authority;

    LocalInstanceRuntime(KeelHome home, PostgresBinaries binaries, ServerCommands commands, dev.keel.tls.CertificateAuthority authority,
                         @io.micronaut.context.annotation.Value("${keel.archive.spool-max-files}") int spoolMaxFiles) {
        this.spoolMaxFiles = spoolMaxFiles;
        this.root = home.resolve("instances");
        this.orphans = home.resolve("orphans");
        this.binaries = binaries;
        this.commands = commands;
        this.authority = authority;
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            throw new UncheckedIOException("could not create " + root, e);
        }
    }

    private Path dir(UUID id) {
        return root.resolve(id.toString());
    }

    private Path dataDir(UUID id) {
        return dir(id).resolve("data");
    }

    /** The server log of an instance on this machine. */
    Path logFile(UUID id) {
        return dir(id).resolve("postgresql.log");
    }

    @Override
    public void create(InstanceSpec spec) {
        UUID id = spec.instance().id();
        destroy(id);
        Installation installation = binaries.installation(spec.instance().major());
        commands.user().createPrivateDirectory(dir(id));
        Path data = dataDir(id);
        commands.initdb(installation, data, InstanceConfig.SUPERUSER, spec.superuserPassword());
        configure(spec.instance(), spec.settings(), spec.hba());
        ServerFiles.writeTls(data, spec.certificate().certificatePem(), spec.certificate().privateKeyPem(), authority.certificatePem(),
                commands.user());
    }

    @Override
    public void restore(InstanceSpec spec, RecoverySignal signal, Fill fill) throws IOException {
        UUID id = spec.instance().id();
        destroy(id);
        commands.user().createPrivateDirectory(dir(id));
        // The exchange first: WAL may be offered while the data directory is still being written.
        commands.user().createPrivateDirectory(exchange(id));
        Path script = dir(id).resolve(RESTORE_SCRIPT);
        Files.writeString(script, RestoreScript.render(exchange(id).toString()));
        Files.setPosixFilePermissions(script, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path data = dataDir(id);
        fill.into(DataDirectorySink.at(data));
        commands.user().ownTree(data);
        configure(spec.instance(), spec.settings(), spec.hba());
        ServerFiles.writeTls(data, spec.certificate().certificatePem(), spec.certificate().privateKeyPem(), authority.certificatePem(),
                commands.user());
        dev.keel.PrivateFiles.write(data.resolve(signal.file), "", commands.user()::own);
    }

    /** Where {@code restore_command} and Keel exchange WAL while the instance recovers. */
    private Path exchange(UUID id) {
        return dir(id).resolve("restore");
    }

    @Override
    public List<String> wantedWal(Instance instance) {
        Path exchange = exchange(instance.id());
        List<String> wanted = new java.util.ArrayList<>();
        try (Stream<Path> entries = Files.list(exchange)) {
            entries.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(WANTED))
                    .map(n -> n.substring(0, n.length() - WANTED.length()))
                    .filter(n -> !Files.exists(exchange.resolve(n)) && !Files.exists(exchange.resolve(n + ".missing")))
                    .forEach(wanted::add);
        } catch (java.nio.file.NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw new UncheckedIOException("could not list " + exchange, e);
        }
        return wanted;
    }

    @Override
    public void offerWal(Instance instance, String name, byte[] bytes) throws IOException {
        dev.keel.PrivateFiles.write(exchange(instance.id()).resolve(name), bytes, commands.user()::own);
    }

    @Override
    public void refuseWal(Instance instance, String name) throws IOException {
        dev.keel.PrivateFiles.write(exchange(instance.id()).resolve(name + ".missing"), "", commands.user()::own);
    }

    @Override
    public void abortRecovery(Instance instance, String reason) throws IOException {
        dev.keel.PrivateFiles.write(exchange(instance.id()).resolve(FAILED), reason.replace('\n', ' ') + "\n", commands.user()::own);
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
        commands.startDetached(binaries.installation(instance.major()), dataDir(instance.id()), logFile(instance.id()), options);
    }

    @Override
    public List<String> logTail(Instance instance, int lines) {
        Path log = logFile(instance.id());
        try {
            List<String> all = Files.readAllLines(log, java.nio.charset.StandardCharsets.UTF_8);
            return all.subList(Math.max(0, all.size() - lines), all.size());
        } catch (java.nio.file.NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + log, e);
        }
    }

    @Override
    public void configure(Instance instance, Map<String, String> settings, List<HbaRule> hba) {
        Path data = dataDir(instance.id());
        Path spool = spool(instance.id());
        try {
            if (!Files.isDirectory(spool)) {
                commands.user().createPrivateDirectory(spool);
            }
            Path script = dir(instance.id()).resolve(ARCHIVE_SCRIPT);
            Files.writeString(script, ArchiveScript.render(spool.toString(), spoolMaxFiles));
            Files.setPosixFilePermissions(script, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException e) {
            throw new UncheckedIOException("could not install the archive command of instance " + instance.id(), e);
        }
        Map<String, String> withArchiving = new java.util.LinkedHashMap<>(settings);
        withArchiving.put("archive_command", ArchiveScript.shellQuote(dir(instance.id()).resolve(ARCHIVE_SCRIPT).toString()) + " \"%p\" \"%f\"");
        if (Files.isDirectory(exchange(instance.id()))) {
            withArchiving.put("restore_command", ArchiveScript.shellQuote(dir(instance.id()).resolve(RESTORE_SCRIPT).toString())
                    + " \"%f\" \"%p\"");
        }
        ServerFiles.writeSettings(data, withArchiving, commands.user());
        ServerFiles.writeHba(data, hba, commands.user());
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
        List<SpooledWal> files = new java.util.ArrayList<>();
        try (Stream<Path> entries = Files.list(spool)) {
            for (Path file : (Iterable<Path>) entries::iterator) {
                String name = file.getFileName().toString();
                if (name.startsWith(".")) {
                    continue;
                }
                try {
                    var attributes = Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class);
                    files.add(new SpooledWal(name, attributes.size(), attributes.lastModifiedTime().toInstant()));
                } catch (java.nio.file.NoSuchFileException e) {
                    // removed meanwhile
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not list " + spool, e);
        }
        files.sort(java.util.Comparator.comparing(SpooledWal::completedAt).thenComparing(SpooledWal::name));
        return files;
    }

    @Override
    public InputStream openSpooledWal(Instance instance, String name) throws IOException {
        return Files.newInputStream(spool(instance.id()).resolve(name), java.nio.file.LinkOption.NOFOLLOW_LINKS);
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
        List<DataFile> files = new java.util.ArrayList<>();
        try {
            Files.walkFileTree(data, new java.nio.file.SimpleFileVisitor<>() {
                @Override
                public java.nio.file.FileVisitResult preVisitDirectory(Path dir, java.nio.file.attribute.BasicFileAttributes attrs) {
                    if (!dir.equals(data)) {
                        files.add(new DataFile(data.relativize(dir).toString(), 0, true));
                    }
                    return java.nio.file.FileVisitResult.CONTINUE;
                }

                @Override
                public java.nio.file.FileVisitResult visitFile(Path file, java.nio.file.attribute.BasicFileAttributes attrs) {
                    if (attrs.isRegularFile()) {
                        files.add(new DataFile(data.relativize(file).toString(), attrs.size(), false));
                    }
                    return java.nio.file.FileVisitResult.CONTINUE;
                }

                @Override
                public java.nio.file.FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                    if (e instanceof java.nio.file.NoSuchFileException) {
                        return java.nio.file.FileVisitResult.CONTINUE; // vanished while listed: it needs no copy
                    }
                    throw e;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("could not list " + data, e);
        }
        files.sort(java.util.Comparator.comparing(DataFile::path));
        return files;
    }

    @Override
    public InputStream openDataFile(Instance instance, String path) throws IOException {
        Path data = dataDir(instance.id());
        Path file = data.resolve(path).normalize();
        if (!file.startsWith(data)) {
            throw new IOException(path + " is outside the data directory");
        }
        return Files.newInputStream(file, java.nio.file.LinkOption.NOFOLLOW_LINKS);
    }

    @Override
    public void start(Instance instance) {
        commands.start(binaries.installation(instance.major()), dataDir(instance.id()), logFile(instance.id()));
    }

    @Override
    public void stop(Instance instance) {
        commands.stop(binaries.installation(instance.major()), dataDir(instance.id()));
    }

    @Override
    public void destroy(UUID instanceId) {
        // By signal rather than pg_ctl: works whatever state the directory is in and needs no binaries.
        Postmaster.stop(dataDir(instanceId), STOP_PATIENCE);
        FileTrees.delete(dir(instanceId));
    }

    @Override
    public String setAside(UUID instanceId) {
        Postmaster.stop(dataDir(instanceId), STOP_PATIENCE);
        Path target = orphans.resolve(instanceId + "-" + System.currentTimeMillis());
        try {
            Files.createDirectories(orphans);
            Files.move(dir(instanceId), target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("could not move " + dir(instanceId) + " to " + target, e);
        }
        return target.toString();
    }

    @Override
    public void fence(Instance instance) {
        Path data = dataDir(instance.id());
        Postmaster.kill(data, STOP_PATIENCE);
        if (Files.isDirectory(data)) {
            try {
                salvageWal(instance);
            } catch (UncheckedIOException e) {
                // The fence stands regardless; the archive may lack what the killed server had not handed off.
                LOG.error("Fenced instance {}, but could not hand its unarchived WAL to its spool", instance.id(), e);
            }
            // Started again by anyone, it comes up read-only: a standby with nothing to follow.
            dev.keel.PrivateFiles.write(data.resolve(RecoverySignal.STANDBY.file), "", commands.user()::own);
        }
    }

    /**
     * Hands the WAL files a killed server had finished but not yet archived ({@code .ready}) to its
     * spool, as its {@code archive_command} would have: the archive then has no hole before the
     * point a standby took over (a promoted standby does not archive what it received).
     */
    private void salvageWal(Instance instance) {
        Path wal = dataDir(instance.id()).resolve("pg_wal");
        Path spool = spool(instance.id());
        try (Stream<Path> ready = Files.list(wal.resolve("archive_status"))) {
            for (Path marker : (Iterable<Path>) ready::iterator) {
                String name = marker.getFileName().toString();
                if (!name.endsWith(".ready")) {
                    continue;
                }
                String file = name.substring(0, name.length() - ".ready".length());
                Path target = spool.resolve(file);
                if (Files.exists(target) || !Files.isRegularFile(wal.resolve(file))) {
                    continue;
                }
                Path temporary = spool.resolve("." + file + ".salvaged");
                Files.copy(wal.resolve(file), temporary, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(temporary,
                        java.nio.file.StandardOpenOption.WRITE)) {
                    channel.force(true);
                }
                Files.move(temporary, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            // nothing to salvage
        } catch (IOException e) {
            throw new UncheckedIOException("could not salvage the unarchived WAL of fenced instance " + instance.id(), e);
        }
    }

    @Override
    public void startOnTimelineAfter(Instance instance, int after) {
        Installation installation = binaries.installation(instance.major());
        Path data = dataDir(instance.id());
        commands.stop(installation, data);
        Timelines.claim(data, after, commands.user()::own);
        commands.startDetached(installation, data, logFile(instance.id()), Timelines.RECOVERY_OPTIONS);
        Timelines.awaitPromotion(data, after);
        commands.stop(installation, data);
        Timelines.release(data, after);
        commands.start(installation, data, logFile(instance.id()));
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
}
