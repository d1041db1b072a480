package dev.keel.testing;

import dev.keel.KeelHome;
import dev.keel.artifacts.MavenArtifacts;
import dev.keel.storage.EmbeddedS3;
import dev.keel.storage.S3ObjectStore;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;

/**
 * The embedded S3Proxy's JVM options in tests ({@code keel.s3.embedded-jvm-options}): the suite
 * starts dozens of them, each for minutes at most, so C1 alone and a class archive of what one
 * loads, made once per work directory by a training S3Proxy that stores, reads, lists and deletes
 * an object. Measured: a start costs about 1.5 CPU-seconds so, 4 with the defaults.
 */
public final class S3ProxyJvm {
    private static final String C1_ONLY = "-XX:TieredStopAtLevel=1";
    /** Whether this JVM tried to make the archive (once: a JVM that cannot make one starts without it). */
    private static boolean tried;

    private S3ProxyJvm() {
    }

    /** The options, with the class archive once there is one. */
    public static synchronized String options() {
        Path archive = TestKeel.workDir().resolve("s3proxy-classes.jsa");
        if (!Files.isRegularFile(archive) && !tried) {
            tried = true;
            train(archive);
        }
        return Files.isRegularFile(archive) ? C1_ONLY + " -XX:SharedArchiveFile=" + archive : C1_ONLY;
    }

    /** The artifacts as Keel resolves them by default: the local Maven repository first. */
    public static MavenArtifacts artifacts() {
        return new MavenArtifacts("https://repo.maven.apache.org/maven2", System.getProperty("user.home") + "/.m2/repository");
    }

    /** Runs an S3Proxy that writes its loaded classes into an archive as it exits, then moves the archive into place whole. */
    private static void train(Path archive) {
        Path making = archive.resolveSibling("s3proxy-classes." + ProcessHandle.current().pid() + ".making.jsa");
        Path dir = TestKeel.freshDataDir("s3proxy-training");
        EmbeddedS3 s3 = new EmbeddedS3(new KeelHome(dir.toString(), dir.toString()), artifacts(), TestKeel.nextPorts().s3(),
                C1_ONLY + " -XX:ArchiveClassesAtExit=" + making);
        try {
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
            }
            if (Files.isRegularFile(making)) {
                Files.move(making, archive, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            try {
                Files.deleteIfExists(making);
            } catch (IOException ignored) {
                // a leftover in the work directory, never read
            }
        }
    }
}
