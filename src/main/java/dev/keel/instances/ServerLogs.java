package dev.keel.instances;

import jakarta.inject.Singleton;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the server log of an instance on this machine, bounded: never more than
 * {@link #MAX_BYTES} at a time however large the file is, only whole lines (a line Postgres is
 * still writing waits for the next read), and from a position a reader keeps, so that following
 * a log reads each line once. A log that shrank (rotated, truncated) is read again from its start.
 */
@Singleton
public final class ServerLogs {
    /** The most bytes one read takes from a log. */
    public static final int MAX_BYTES = 4 * 1024 * 1024;

    private final LocalInstanceRuntime runtime;

    ServerLogs(LocalInstanceRuntime runtime) {
        this.runtime = runtime;
    }

    /** Whole lines read, and the position after the last of them (where the next read starts). */
    public record Lines(List<String> lines, long end) {
    }

    /** The last {@code maxLines} whole lines (from at most {@link #MAX_BYTES} before the end), and the end. */
    public Lines tail(Instance instance, int maxLines) {
        return tail(runtime.logFile(instance.id()), maxLines);
    }

    /** The whole lines written after {@code position} (at most {@link #MAX_BYTES} of them), and where they end. */
    public Lines since(Instance instance, long position) {
        return since(runtime.logFile(instance.id()), position);
    }

    static Lines tail(Path log, int maxLines) {
        try (FileChannel channel = FileChannel.open(log, StandardOpenOption.READ)) {
            long size = channel.size();
            long from = Math.max(0, size - MAX_BYTES);
            Lines read = read(channel, from, size, from > 0);
            List<String> lines = read.lines();
            return new Lines(List.copyOf(lines.subList(Math.max(0, lines.size() - maxLines), lines.size())), read.end());
        } catch (NoSuchFileException e) {
            return new Lines(List.of(), 0);
        } catch (IOException e) {
            throw new UncheckedIOException("could not read the server log " + log, e);
        }
    }

    static Lines since(Path log, long position) {
        try (FileChannel channel = FileChannel.open(log, StandardOpenOption.READ)) {
            long size = channel.size();
            long from = size < position ? 0 : position;
            return read(channel, from, Math.min(size, from + MAX_BYTES), false);
        } catch (NoSuchFileException e) {
            return new Lines(List.of(), 0);
        } catch (IOException e) {
            throw new UncheckedIOException("could not read the server log " + log, e);
        }
    }

    /** Lines between {@code from} and {@code to}; without the first when it may be a part ({@code skipFirst}), without an unfinished last. */
    private static Lines read(FileChannel channel, long from, long to, boolean skipFirst) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate((int) (to - from));
        while (buffer.hasRemaining() && channel.read(buffer, from + buffer.position()) > 0) {
            // read until full or the end
        }
        byte[] bytes = buffer.array();
        int length = buffer.position();
        int start = 0;
        if (skipFirst) {
            while (start < length && bytes[start] != '\n') {
                start++;
            }
            start++;
        }
        List<String> lines = new ArrayList<>();
        int lineStart = start;
        for (int i = start; i < length; i++) {
            if (bytes[i] == '\n') {
                lines.add(decode(bytes, lineStart, i - lineStart));
                lineStart = i + 1;
            }
        }
        if (lines.isEmpty() && length == MAX_BYTES && lineStart < length) {
            lines.add(decode(bytes, lineStart, length - lineStart)); // a line longer than a read: cut, so that reading goes on
            lineStart = length;
        }
        return new Lines(lines, from + Math.min(lineStart, length));
    }

    private static String decode(byte[] bytes, int offset, int length) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPLACE)
                    .onUnmappableCharacter(CodingErrorAction.REPLACE).decode(ByteBuffer.wrap(bytes, offset, length)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalStateException("a replacing decoder does not fail", e);
        }
    }
}
