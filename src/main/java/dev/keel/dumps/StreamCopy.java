package dev.keel.dumps;

import dev.keel.archive.Sha256;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.util.function.LongConsumer;

/** Copies a dump from one stream to another, counting and hashing it, and reporting the count about once a second. */
final class StreamCopy {
    private static final int BUFFER = 1 << 17;
    private static final long REPORT_NANOS = 1_000_000_000L;

    private final LongConsumer progress;
    private final MessageDigest digest = Sha256.digest();
    private long count;

    StreamCopy(LongConsumer progress) {
        this.progress = progress;
    }

    /** Copies until {@code in} ends. */
    void copy(InputStream in, OutputStream out) throws IOException {
        byte[] buffer = new byte[BUFFER];
        long reported = System.nanoTime();
        int n;
        while ((n = in.read(buffer)) >= 0) {
            out.write(buffer, 0, n);
            digest.update(buffer, 0, n);
            count += n;
            if (System.nanoTime() - reported >= REPORT_NANOS) {
                reported = System.nanoTime();
                progress.accept(count);
            }
        }
        out.flush();
    }

    long count() {
        return count;
    }

    /** The sha256 of everything copied; call once, at the end. */
    String sha256() {
        return Sha256.hex(digest.digest());
    }
}
