package dev.keel.archive;

import com.github.luben.zstd.ZstdOutputStream;
import dev.keel.storage.ObjectUpload;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

import java.io.ByteArrayInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.List;

/**
 * Streams a data directory into an upload as a zstd-compressed tar, checksumming each file as it
 * goes and the compressed object as a whole. Each file is copied up to the size it had when
 * listed (padded with zeros if it shrank meanwhile): WAL replay repairs what changed during the
 * copy, as it does for pg_basebackup.
 */
final class BackupWriter {
    private static final int COPY_BUFFER = 1 << 17;

    private final Counting stored;
    private final MessageDigest objectDigest = Sha256.digest();
    private final ZstdOutputStream zstd;
    private final TarArchiveOutputStream tar;
    private final List<BackupManifest.Entry> entries = new ArrayList<>();
    private final Date modified = Date.from(Instant.now());
    private long size;

    BackupWriter(ObjectUpload upload, int level, int workers) throws IOException {
        this.stored = new Counting(upload.stream(), objectDigest);
        this.zstd = new ZstdOutputStream(stored, level);
        zstd.setChecksum(true);
        if (workers > 1) {
            zstd.setWorkers(workers);
        }
        this.tar = new TarArchiveOutputStream(zstd, StandardCharsets.UTF_8.name());
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
    }

    void directory(String path) throws IOException {
        TarArchiveEntry entry = new TarArchiveEntry(path + "/");
        entry.setMode(0040700);
        entry.setModTime(modified);
        tar.putArchiveEntry(entry);
        tar.closeArchiveEntry();
        entries.add(new BackupManifest.Entry(path, 0, true, null));
    }

    /** Copies exactly {@code length} bytes of {@code in} (zeros past its end) as {@code path}. */
    void file(String path, long length, InputStream in) throws IOException {
        TarArchiveEntry entry = new TarArchiveEntry(path);
        entry.setMode(0100600);
        entry.setSize(length);
        entry.setModTime(modified);
        tar.putArchiveEntry(entry);
        MessageDigest digest = Sha256.digest();
        byte[] buffer = new byte[COPY_BUFFER];
        long left = length;
        while (left > 0) {
            int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
            if (n < 0) {
                Arrays.fill(buffer, (byte) 0); // the file shrank after it was listed
                n = (int) Math.min(buffer.length, left);
            }
            tar.write(buffer, 0, n);
            digest.update(buffer, 0, n);
            left -= n;
        }
        tar.closeArchiveEntry();
        size += length;
        entries.add(new BackupManifest.Entry(path, length, false, Sha256.hex(digest.digest())));
    }

    void text(String path, String content) throws IOException {
        byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
        file(path, bytes.length, new ByteArrayInputStream(bytes));
    }

    /** Ends the tar and the compression; the upload is not completed here. */
    Written finish() throws IOException {
        tar.finish();
        tar.close();
        return new Written(size, stored.count, Sha256.hex(objectDigest.digest()), List.copyOf(entries));
    }

    long bytesWritten() {
        return size;
    }

    record Written(long size, long stored, String objectSha256, List<BackupManifest.Entry> entries) {
    }

    /** Counts and digests what passes to the upload. */
    private static final class Counting extends FilterOutputStream {
        private final MessageDigest digest;
        private long count;

        Counting(OutputStream out, MessageDigest digest) {
            super(out);
            this.digest = digest;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            digest.update((byte) b);
            count++;
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            out.write(bytes, offset, length);
            digest.update(bytes, offset, length);
            count += length;
        }
    }
}
