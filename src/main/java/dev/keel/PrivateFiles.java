package dev.keel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Files only their owner may read (keys, passwords), created 0600 from the first byte on, and
 * replaced whole: a power cut leaves the old file or the new one ({@link Fsync}), never an empty
 * one. A pg_hba.conf or keel.conf lost so would not let the server start; a {@code standby.signal}
 * lost so would start a fenced primary as a primary again.
 */
public final class PrivateFiles {
    private PrivateFiles() {
    }

    /** Replaces {@code file} atomically with {@code text}; {@code beforeMove} may hand the file to another owner. */
    public static void write(Path file, String text, Consumer<Path> beforeMove) {
        write(file, text.getBytes(StandardCharsets.UTF_8), beforeMove);
    }

    /** Replaces {@code file} atomically and durably with {@code content}; {@code beforeMove} may hand the file to another owner. */
    public static void write(Path file, byte[] content, Consumer<Path> beforeMove) {
        write(file, content, beforeMove, true);
    }

    /**
     * As {@link #write(Path, byte[], Consumer)}, without fsync: for files that mean nothing once
     * the machine restarts (a pulse of monotonic clock readings, WAL handed to a server's
     * {@code restore_command}, which recovery asks for again), written too often to wait for a disk.
     */
    public static void writeTransient(Path file, byte[] content, Consumer<Path> beforeMove) {
        write(file, content, beforeMove, false);
    }

    /** As {@link #writeTransient(Path, byte[], Consumer)}, of text. */
    public static void writeTransient(Path file, String text, Consumer<Path> beforeMove) {
        writeTransient(file, text.getBytes(StandardCharsets.UTF_8), beforeMove);
    }

    private static void write(Path file, byte[] content, Consumer<Path> beforeMove, boolean durable) {
        Path temp = file.resolveSibling("." + file.getFileName() + ".tmp");
        try {
            Files.deleteIfExists(temp);
            // One open that creates the file and refuses to follow a link: root may be writing into a
            // directory another account owns.
            try (FileChannel channel = FileChannel.open(temp,
                    Set.<OpenOption>of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
                ByteBuffer bytes = ByteBuffer.wrap(content);
                while (bytes.hasRemaining()) {
                    channel.write(bytes);
                }
                if (durable) {
                    channel.force(true);
                }
            }
            beforeMove.accept(temp);
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            if (durable) {
                Fsync.forceDirectoryOf(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not write " + file, e);
        }
    }

    public static void write(Path file, String text) {
        write(file, text, path -> { });
    }

    /**
     * Replaces {@code file} atomically with a script (0755, owned by whoever runs Keel), never
     * writing through a link another account may have put in its place.
     */
    public static void writeExecutable(Path file, String script) {
        write(file, script, path -> {
            try {
                Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rwxr-xr-x"));
            } catch (IOException e) {
                throw new UncheckedIOException("could not make " + path + " executable", e);
            }
        });
    }
}
