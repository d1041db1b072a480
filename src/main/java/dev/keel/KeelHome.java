package dev.keel;

import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Keel's data directory ({@code KEEL_DATA_DIR}, default {@code ./var}): catalog, binaries, instances, keys. */
@Singleton
public final class KeelHome {
    private final Path dir;

    public KeelHome(@Value("${keel.data-dir}") String dataDir) {
        this.dir = Path.of(dataDir).toAbsolutePath().normalize();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("could not create the data directory " + dir, e);
        }
    }

    public Path dir() {
        return dir;
    }

    public Path resolve(String name) {
        return dir.resolve(name);
    }
}
