package dev.keel;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * fsync, which the JDK offers only through a channel. A file written and renamed into place
 * survives a power cut only when its content was forced before the rename and its directory
 * after it (the rename is an entry of the directory): without both, a machine that loses power
 * may come back with the old file, an empty one, or none.
 */
public final class Fsync {
    private Fsync() {
    }

    /** fsync of a file or a directory (Linux opens a directory for reading, and fsyncs it). */
    public static void force(Path path) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    /** fsync of the directory that holds {@code file}: its entries (a rename, a link, a removal) as they are now. */
    public static void forceDirectoryOf(Path file) throws IOException {
        force(file.toAbsolutePath().getParent());
    }
}
