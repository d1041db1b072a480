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
 * ({@code data/}, {@code postgresql.log}), owned by the server user. Instances set aside go to
 * {@code <data dir>/orphans/<id>-<millis>/}.
 */
@Singleton
final class LocalInstanceRuntime implements InstanceRuntime {
    private static final Duration STOP_PATIENCE = Duration.ofSeconds(30);

    private final Path root;
    private final Path orphans;
    private final PostgresBinaries binaries;
    private final ServerCommands commands;

    LocalInstanceRuntime(KeelHome home, PostgresBinaries binaries, ServerCommands commands) {
        this.root = home.resolve("instances");
        this.orphans = home.resolve("orphans");
        this.binaries = binaries;
        this.commands = commands;
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
        ServerFiles.writeTls(data, spec.certificate().certificatePem(), spec.certificate().privateKeyPem(), commands.user());
    }

    @Override
    public void configure(Instance instance, Map<String, String> settings, List<HbaRule> hba) {
        Path data = dataDir(instance.id());
        ServerFiles.writeSettings(data, settings, commands.user());
        ServerFiles.writeHba(data, hba, commands.user());
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
