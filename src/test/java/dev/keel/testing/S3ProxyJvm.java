package dev.keel.testing;

import dev.keel.KeelHome;
import dev.keel.artifacts.MavenArtifacts;
import dev.keel.storage.EmbeddedS3;
import dev.keel.storage.S3ObjectStore;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The embedded S3Proxy's JVM options in tests ({@code keel.s3.embedded-jvm-options}): the suite
 * starts about 70, each for minutes at most, so C1 alone and a class archive of what one loads,
 * made once per test JVM (as {@link KeelProcess}'s) by a training S3Proxy that stores, reads,
 * lists and deletes an object. Measured on an idle machine: a start so costs 1.1 CPU-seconds,
 * 2.6 with the defaults (3.9 during a suite). It changes no behaviour: the JVM runs without an
 * archive that does not match it, and the tests start without one that could not be made.
 */
public final class S3ProxyJvm {
    private static final String C1_ONLY = "-XX:TieredStopAtLevel=1";
    /** The class archive, once made: absent until the first S3Proxy asks, and for good if it could not be made. */
    private static Optional<Path> classArchive;

    private S3ProxyJvm() {
    }

    /** The options, each one argument. */
    public static List<String> options() {
        return classArchive().map(archive -> List.of(C1_ONLY, "-XX:SharedArchiveFile=" + archive)).orElse(List.of(C1_ONLY));
    }

    /** The options as {@code keel.s3.embedded-jvm-options} takes them (separated by spaces; the archive's path has none). */
    public static String optionsLine() {
        return String.join(" ", options());
    }

    /** The artifacts as Keel resolves them by default: the local Maven repository first. */
    public static MavenArtifacts artifacts() {
        return new MavenArtifacts("https://repo.maven.apache.org/maven2", System.getProperty("user.home") + "/.m2/repository");
    }

    /** Runs an S3Proxy that writes its loaded classes into an archive as it exits, then moves the archive into place whole. */
    private static synchronized Optional<Path> classArchive() {
        if (classArchive != null) {
            return classArchive;
        }
        classArchive = Optional.empty();
        Path archive = TestKeel.workDir().resolve("s3proxy-classes.jsa");
        Path making = TestKeel.workDir().resolve("s3proxy-classes.making.jsa");
        if (archive.toString().chars().anyMatch(Character::isWhitespace)) {
            System.err.println("No class archive for the test S3Proxies: the work directory's path has a space, which the options cannot carry");
            return classArchive;
        }
        try {
            Files.deleteIfExists(archive);
            Files.deleteIfExists(making);
            Path dir = TestKeel.freshDataDir("s3proxy-classes");
            EmbeddedS3 s3 = new EmbeddedS3(new KeelHome(dir.toString(), dir.toString()), artifacts(), TestKeel.nextPorts().s3(),
                    C1_ONLY + " -XX:ArchiveClassesAtExit=" + making);
            try (S3ObjectStore store = new S3ObjectStore(s3.start())) {
                store.ensureBucket();
                store.put("training/object", "training".getBytes(StandardCharsets.UTF_8), Map.of("purpose", "training"));
                try (InputStream in = store.get("training/object")) {
                    in.readAllBytes();
                }
                store.list("training/");
                store.delete(List.of("training/object"));
            } finally {
                s3.stop(); // the archive is written as the JVM exits
                TestKeel.freshDataDir("s3proxy-classes");
            }
            if (Files.isRegularFile(making)) {
                Files.move(making, archive, StandardCopyOption.ATOMIC_MOVE);
                classArchive = Optional.of(archive);
            } else {
                System.err.println("No class archive for the test S3Proxies (the training one stopped without writing one): they start without");
            }
        } catch (IOException | RuntimeException e) {
            System.err.println("No class archive for the test S3Proxies (" + e + "): they start without");
        }
        return classArchive;
    }
}
