package dev.keel.instances;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a server log as lines ({@code heroku logs}), through its {@link LogSource}, bounded: never more than
 * {@link #MAX_BYTES} at a time however large the file is, only whole lines (a line Postgres is
 * still writing waits for the next read), and from a position a reader keeps, so that following
 * a log reads each line once. A log that shrank (rotated, truncated) is read again from its start.
 */
public final class ServerLogs {
    /** The most bytes one read takes from a log. */
    public static final int MAX_BYTES = 4 * 1024 * 1024;

    private ServerLogs() {
    }

    /** Whole lines read, and the position after the last of them (where the next read starts). */
    public record Lines(List<String> lines, long end) {
    }

    /** The last {@code maxLines} whole lines of {@code log} (from at most {@link #MAX_BYTES} before the end), and the end. */
    public static Lines tail(LogSource log, int maxLines) {
        long size = log.read(0, 0).size();
        long from = Math.max(0, size - MAX_BYTES);
        Lines read = lines(log.read(from, (int) (size - from)).bytes(), from, from > 0);
        List<String> lines = read.lines();
        return new Lines(List.copyOf(lines.subList(Math.max(0, lines.size() - maxLines), lines.size())), read.end());
    }

    /** The whole lines of {@code log} written after {@code position} (at most {@link #MAX_BYTES} of them), and where they end. */
    public static Lines since(LogSource log, long position) {
        InstanceRuntime.LogBytes read = log.read(position, MAX_BYTES);
        if (read.size() < position) { // the log shrank (rotated, truncated): read again from its start
            return lines(log.read(0, MAX_BYTES).bytes(), 0, false);
        }
        return lines(read.bytes(), position, false);
    }

    /** The lines in {@code bytes}, read from {@code from}; without the first when it may be a part ({@code skipFirst}), without an unfinished last. */
    private static Lines lines(byte[] bytes, long from, boolean skipFirst) {
        int length = bytes.length;
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
