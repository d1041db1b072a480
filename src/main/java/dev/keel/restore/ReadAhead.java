package dev.keel.restore;

import dev.keel.DaemonThreads;
import dev.keel.Fatal;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * An input stream read ahead by its own thread into a few large chunks, so that waiting on the
 * network (the object store) overlaps the caller's work on what already arrived. Closing it
 * stops the reader and closes the source.
 */
final class ReadAhead extends InputStream {
    private static final int CHUNK = 1 << 20;
    private static final int CHUNKS_AHEAD = 16;
    private static final byte[] END = new byte[0];

    private final InputStream source;
    private final BlockingQueue<byte[]> chunks = new ArrayBlockingQueue<>(CHUNKS_AHEAD);
    private final Thread reader;
    private volatile IOException failure;
    private byte[] current = new byte[0];
    private int position;
    private boolean ended;

    private ReadAhead(InputStream source) {
        this.source = source;
        this.reader = DaemonThreads.daemon(this::readAll, "keel-read-ahead");
    }

    static InputStream of(InputStream source) {
        ReadAhead stream = new ReadAhead(source);
        stream.reader.start();
        return stream;
    }

    private void readAll() {
        try {
            while (true) {
                byte[] chunk = source.readNBytes(CHUNK);
                if (chunk.length == 0) {
                    break;
                }
                chunks.put(chunk);
            }
        } catch (IOException e) {
            failure = e;
        } catch (InterruptedException e) {
            return;
        } catch (RuntimeException | Error e) {
            Fatal.haltIfFatal(e);
            failure = new IOException("reading ahead failed", e);
        }
        try {
            chunks.put(END);
        } catch (InterruptedException e) {
            // closed
        }
    }

    /** Makes the next chunk current; false at the end. */
    private boolean fill() throws IOException {
        while (position == current.length) {
            if (ended) {
                return false;
            }
            try {
                byte[] next = chunks.take();
                if (next == END) {
                    ended = true;
                    if (failure != null) {
                        throw failure;
                    }
                    return false;
                }
                current = next;
                position = 0;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while reading ahead");
            }
        }
        return true;
    }

    @Override
    public int read() throws IOException {
        return fill() ? current[position++] & 0xff : -1;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
        if (length == 0) {
            return 0;
        }
        if (!fill()) {
            return -1;
        }
        int n = Math.min(length, current.length - position);
        System.arraycopy(current, position, buffer, offset, n);
        position += n;
        return n;
    }

    @Override
    public void close() throws IOException {
        reader.interrupt();
        source.close();
    }
}
