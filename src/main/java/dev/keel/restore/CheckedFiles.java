package dev.keel.restore;

import dev.keel.DaemonThreads;
import dev.keel.Fatal;
import dev.keel.archive.BackupManifest;
import dev.keel.archive.Sha256;
import dev.keel.instances.DataDirectorySink;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Writes a backup's files into a {@link DataDirectorySink} on its own thread, checking each
 * against its manifest entry (size and sha256) as it writes, so that hashing and writing overlap
 * the decompression that feeds it. The first failure stops it; the feeder hears of it at its next
 * call or at {@link #finish}.
 */
final class CheckedFiles {
    private static final int QUEUED_CHUNKS = 32;

    private sealed interface Item {
    }

    private record Directory(String path) implements Item {
    }

    private record Begin(String path, BackupManifest.Entry listed) implements Item {
    }

    private record Chunk(byte[] bytes, int length) implements Item {
    }

    private record End() implements Item {
    }

    private record Stop() implements Item {
    }

    private final DataDirectorySink sink;
    private final String where;
    private final BlockingQueue<Item> queue = new ArrayBlockingQueue<>(QUEUED_CHUNKS);
    private final Thread writer;
    private volatile Exception failure;

    CheckedFiles(DataDirectorySink sink, String where) {
        this.sink = sink;
        this.where = where;
        this.writer = DaemonThreads.daemon(this::writeAll, "keel-restore-writer");
        writer.start();
    }

    void directory(String path) throws IOException {
        put(new Directory(path));
    }

    void begin(String path, BackupManifest.Entry listed) throws IOException {
        put(new Begin(path, listed));
    }

    /** Hands over {@code bytes} (the caller must not reuse the array). */
    void chunk(byte[] bytes, int length) throws IOException {
        put(new Chunk(bytes, length));
    }

    void end() throws IOException {
        put(new End());
    }

    /** Waits until every file is written and checked; throws the first failure. */
    void finish() throws IOException {
        put(new Stop());
        try {
            writer.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while the backup's files were written");
        }
        rethrow();
    }

    /** Stops the writer after a failure of the feeder; nothing more is written. */
    void abandon() {
        writer.interrupt();
    }

    private void put(Item item) throws IOException {
        rethrow();
        try {
            queue.put(item);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while the backup's files were written");
        }
    }

    private void rethrow() throws IOException {
        Exception e = failure;
        if (e instanceof CorruptArchiveException corrupt) {
            throw corrupt;
        }
        if (e instanceof IOException io) {
            throw io;
        }
        if (e != null) {
            throw new IOException(e);
        }
    }

    private void writeAll() {
        OutputStream file = null;
        MessageDigest digest = null;
        Begin current = null;
        long size = 0;
        try {
            while (true) {
                Item item = queue.take();
                if (failure != null) {
                    if (item instanceof Stop) {
                        return;
                    }
                    continue; // drain, so the feeder never blocks on a dead writer
                }
                try {
                    if (item instanceof Stop) {
                        return;
                    } else if (item instanceof Directory d) {
                        sink.directory(d.path());
                    } else if (item instanceof Begin b) {
                        current = b;
                        file = sink.file(b.path());
                        digest = Sha256.digest();
                        size = 0;
                    } else if (item instanceof Chunk c) {
                        file.write(c.bytes(), 0, c.length());
                        digest.update(c.bytes(), 0, c.length());
                        size += c.length();
                    } else {
                        file.close();
                        file = null;
                        String sha256 = Sha256.hex(digest.digest());
                        BackupManifest.Entry listed = current.listed();
                        if (size != listed.size() || !sha256.equals(listed.sha256())) {
                            throw new CorruptArchiveException(where + " is corrupt: " + current.path() + " has " + size
                                    + " bytes with sha256 " + sha256 + ", the manifest says " + listed.size()
                                    + " bytes with sha256 " + listed.sha256());
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    failure = e;
                } catch (Error e) {
                    Fatal.haltIfFatal(e);
                    failure = new IOException("writing the restored files failed", e);
                }
            }
        } catch (InterruptedException e) {
            failure = failure == null ? new InterruptedIOException("the backup's files were abandoned") : failure;
        } finally {
            if (file != null) {
                try {
                    file.close();
                } catch (IOException ignored) {
                    // failed already
                }
            }
        }
    }
}
