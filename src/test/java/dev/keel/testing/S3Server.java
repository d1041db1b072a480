package dev.keel.testing;

import dev.keel.artifacts.MavenArtifacts;
import dev.keel.storage.EmbeddedS3;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;

/**
 * An S3-compatible server (S3Proxy on a filesystem, as Keel embeds it) on a {@link Hosts} host of
 * its own, for several Keel nodes to share as their {@code KEEL_S3_*}. It runs in the foreground
 * of its host, so that {@link Hosts.Host#killAll()} takes it down with the host.
 */
public final class S3Server implements AutoCloseable {
    private static final MavenArtifacts.Coordinates S3PROXY =
            new MavenArtifacts.Coordinates("org.gaul", "s3proxy", "2.6.0", "jar-with-dependencies");
    private static final int PORT = 9000;
    private static final String BUCKET = "keel";

    private final Hosts.Host host;
    private final String identity;
    private final String credential;
    private final Process process;

    private S3Server(Hosts.Host host, String identity, String credential, Process process) {
        this.host = host;
        this.identity = identity;
        this.credential = credential;
        this.process = process;
    }

    /** Starts S3Proxy on {@code host}, keeping its objects under {@code dir} (made fresh), and waits until it listens. */
    public static S3Server start(Hosts.Host host, Path dir) {
        String identity = "keel" + UUID.randomUUID().toString().substring(0, 8);
        String credential = UUID.randomUUID().toString().replace("-", "");
        Path config = dir.resolve("s3proxy.properties");
        Process process;
        try {
            Files.createDirectories(dir.resolve("data"));
            Files.writeString(config, String.join("\n",
                    "s3proxy.endpoint=http://" + host.address() + ":" + PORT,
                    "s3proxy.authorization=aws-v2-or-v4",
                    "s3proxy.identity=" + identity,
                    "s3proxy.credential=" + credential,
                    "s3proxy.ignore-unknown-headers=true",
                    "jclouds.provider=filesystem-nio2",
                    "jclouds.filesystem.basedir=" + dir.resolve("data"),
                    "jclouds.identity=keel",
                    "jclouds.credential=keel") + "\n");
            Path jar = S3ProxyJvm.artifacts().resolve(S3PROXY, dir.resolve("downloads"));
            process = host.exec(EmbeddedS3.command(jar, S3ProxyJvm.options(), config).toArray(String[]::new))
                    .redirectErrorStream(true).redirectOutput(dir.resolve("s3proxy.log").toFile()).start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        S3Server server = new S3Server(host, identity, credential, process);
        Wait.until("S3Proxy on " + host + " to listen (log: " + dir.resolve("s3proxy.log") + ")", Timeouts.SERVER_START, () -> {
            if (!process.isAlive()) {
                throw new AssertionError("S3Proxy exited with " + process.exitValue());
            }
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(host.address(), PORT), 1000);
                return true;
            } catch (IOException e) {
                return false;
            }
        });
        return server;
    }

    /** The environment that points a Keel node at this store (Keel makes the bucket when it is missing). */
    public Map<String, String> env() {
        return Map.of("KEEL_S3_ENDPOINT", "http://" + host.address() + ":" + PORT, "KEEL_S3_BUCKET", BUCKET,
                "KEEL_S3_ACCESS_KEY_ID", identity, "KEEL_S3_SECRET_ACCESS_KEY", credential);
    }

    @Override
    public void close() {
        Footprint.stop(process);
    }
}
