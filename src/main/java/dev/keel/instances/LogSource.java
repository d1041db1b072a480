package dev.keel.instances;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * Where the bytes of one server log are read from: the file on this node, or (through
 * {@code logs.HostedLogs}) the node that hosts the server. {@link ServerLog} and {@link ServerLogs}
 * read every log through one, a bounded range at a time.
 */
@FunctionalInterface
public interface LogSource {
    /** At most {@code length} bytes from byte {@code offset} on, and the log's size now (0 and nothing when there is no log). */
    InstanceRuntime.LogBytes read(long offset, int length);

    /** The log in file {@code log} on this machine: the file itself, never a link's target (the server's account owns its directory). */
    static LogSource file(Path log) {
        return (offset, length) -> {
            try (FileChannel channel = FileChannel.open(log, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
                long size = channel.size();
                ByteBuffer buffer = ByteBuffer.allocate((int) Math.max(0, Math.min(length, size - offset)));
                while (buffer.hasRemaining() && channel.read(buffer, offset + buffer.position()) > 0) {
                    // read until the buffer is full
                }
                return new InstanceRuntime.LogBytes(Arrays.copyOf(buffer.array(), buffer.position()), size);
            } catch (NoSuchFileException e) {
                return new InstanceRuntime.LogBytes(new byte[0], 0);
            } catch (IOException e) {
                throw new UncheckedIOException("could not read " + log, e);
            }
        };
    }
}
