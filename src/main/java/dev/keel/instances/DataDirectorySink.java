package dev.keel.instances;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Where a restore writes a data directory, file by file, by paths relative to its root. A path
 * that would leave the root is refused. Directories are 0700 and files 0600, as Postgres wants.
 */
public interface DataDirectorySink {
    void directory(String path) throws IOException;

    /** A new file at {@code path}; the caller writes its bytes and closes the stream. */
    OutputStream file(String path) throws IOException;

    /** A sink writing under {@code root} on this machine (created if missing). */
    static DataDirectorySink at(Path root) throws IOException {
        Path base = root.toAbsolutePath().normalize();
        Files.createDirectories(base);
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwx------"));
        return new DataDirectorySink() {
            private Path inside(String path) throws IOException {
                Path resolved = base.resolve(path).normalize();
                if (!resolved.startsWith(base) || resolved.equals(base)) {
                    throw new IOException("'" + path + "' is not a path inside the data directory");
                }
                return resolved;
            }

            @Override
            public void directory(String path) throws IOException {
                Path dir = inside(path);
                Files.createDirectories(dir);
                Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            }

            @Override
            public OutputStream file(String path) throws IOException {
                Path file = inside(path);
                OutputStream out = Files.newOutputStream(file);
                Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
                return out;
            }
        };
    }
}
