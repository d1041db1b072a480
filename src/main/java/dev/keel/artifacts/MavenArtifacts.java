package dev.keel.artifacts;

import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;

/**
 * Resolves an artifact as Maven would: from the local repository ({@code ~/.m2/repository}) when
 * a build already fetched it, else downloaded from the remote repository (Maven Central by
 * default) and checked against the SHA-1 the repository publishes beside it. A download lands in
 * the caller's directory and is reused from there.
 */
@Singleton
public final class MavenArtifacts {
    private static final Logger LOG = LoggerFactory.getLogger(MavenArtifacts.class);

    private final URI repository;
    private final Path localRepository;
    private final HttpClient http = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(20))
            .followRedirects(HttpClient.Redirect.NORMAL)
            .build();

    public MavenArtifacts(@Value("${keel.maven.repository}") String repository,
                          @Value("${keel.maven.local-repository}") String localRepository) {
        this.repository = URI.create(repository.endsWith("/") ? repository : repository + "/");
        this.localRepository = Path.of(localRepository);
    }

    /** One artifact's coordinates; {@code classifier} may be null. */
    public record Coordinates(String groupId, String artifactId, String version, String classifier) {
        String fileName() {
            return artifactId + "-" + version + (classifier == null ? "" : "-" + classifier) + ".jar";
        }

        String path() {
            return groupId.replace('.', '/') + "/" + artifactId + "/" + version + "/" + fileName();
        }

        @Override
        public String toString() {
            return groupId + ":" + artifactId + ":" + version + (classifier == null ? "" : ":" + classifier);
        }
    }

    /** The artifact's jar, from the local repository, an earlier download into {@code downloads}, or a new one. */
    public Path resolve(Coordinates artifact, Path downloads) throws IOException {
        Path local = localRepository.resolve(artifact.path());
        if (Files.isRegularFile(local)) {
            return local;
        }
        Files.createDirectories(downloads);
        Path target = downloads.resolve(artifact.fileName());
        if (Files.isRegularFile(target)) {
            return target;
        }
        URI uri = repository.resolve(artifact.path());
        LOG.info("Downloading {} from {}", artifact, uri);
        String expectedSha1 = fetchString(URI.create(uri + ".sha1")).strip().split("\\s+")[0];
        Path partial = Files.createTempFile(downloads, artifact.artifactId(), ".part");
        try {
            HttpResponse<Path> response = send(HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(10)).build(),
                    HttpResponse.BodyHandlers.ofFile(partial));
            if (response.statusCode() != 200) {
                throw new IOException("GET " + uri + " answered " + response.statusCode());
            }
            String actualSha1 = sha1(partial);
            if (!actualSha1.equalsIgnoreCase(expectedSha1)) {
                throw new IOException("checksum mismatch for " + uri + ": SHA-1 " + actualSha1 + ", expected " + expectedSha1);
            }
            Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return target;
        } finally {
            Files.deleteIfExists(partial);
        }
    }

    private String fetchString(URI uri) throws IOException {
        HttpResponse<String> response = send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IOException("GET " + uri + " answered " + response.statusCode());
        }
        return response.body();
    }

    private <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler) throws IOException {
        try {
            return http.send(request, handler);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while fetching " + request.uri(), e);
        }
    }

    private static String sha1(Path file) throws IOException {
        try (var in = Files.newInputStream(file)) {
            MessageDigest digest = MessageDigest.getInstance("SHA-1");
            byte[] buffer = new byte[1 << 16];
            int n;
            while ((n = in.read(buffer)) > 0) {
                digest.update(buffer, 0, n);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
