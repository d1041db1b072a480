package dev.keel.archive;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdException;
import dev.keel.storage.StoredObject;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;

/**
 * The one format of WAL objects in the object store, written and read only here. An object holds
 * a WAL file's bytes, compressed with zstd ({@code compression=zstd}) or as they are
 * ({@code none}), and metadata: {@code sha256} and {@code size} of the uncompressed bytes,
 * {@code compression}, and for a segment the {@code system-identifier} in its first page's long
 * header (the cluster that wrote it, as pgBackRest checks it). A streamed segment is stored in parts,
 * each in this format (only the first carries the system identifier).
 */
public final class WalFormat {
    static final String SHA256 = "sha256";
    static final String SIZE = "size";
    static final String COMPRESSION = "compression";
    static final String SYSTEM_IDENTIFIER = "system-identifier";
    private static final String ZSTD = "zstd";
    private static final String NONE = "none";
    private static final int ZSTD_LEVEL = 1;
    /** XLogLongPageHeaderData: magic, info, timeline, page address, remaining length, then the system identifier. */
    private static final int SYSID_OFFSET = 24;
    private static final int XLP_LONG_HEADER = 0x0002;

    private WalFormat() {
    }

    /** A WAL file as it goes into the store. */
    public record Encoded(byte[] stored, Map<String, String> metadata, String sha256, long size) {
    }

    /** The first {@code length} bytes of {@code raw} (a whole file, or a partial segment's written part), encoded. */
    public static Encoded encode(byte[] raw, int length) {
        return encode(raw, 0, length);
    }

    /** {@code length} bytes of {@code raw} from {@code offset} (a part of a streamed segment), encoded. */
    public static Encoded encode(byte[] raw, int offset, int length) {
        return encode(raw, offset, length, sha256(raw, offset, length));
    }

    /** The first {@code length} bytes of {@code raw} encoded, whose {@link #sha256} the caller has computed already. */
    public static Encoded encode(byte[] raw, int length, String sha256) {
        return encode(raw, 0, length, sha256);
    }

    private static Encoded encode(byte[] raw, int offset, int length, String sha256) {
        return encoded(compress(raw, offset, length), sha256, length, offset == 0 ? systemIdentifier(raw) : OptionalLong.empty());
    }

    /** One zstd frame of {@code length} bytes of {@code raw} from {@code offset}, without copying them first. */
    private static byte[] compress(byte[] raw, int offset, int length) {
        byte[] frame = new byte[Math.toIntExact(Zstd.compressBound(length))];
        long size = Zstd.compressByteArray(frame, 0, frame.length, raw, offset, length, ZSTD_LEVEL);
        if (Zstd.isError(size)) {
            throw new IllegalStateException("zstd could not compress " + length + " bytes: " + Zstd.getErrorName(size));
        }
        return Arrays.copyOf(frame, Math.toIntExact(size));
    }

    /**
     * The {@code sha256} an object of {@code length} bytes of {@code raw} from {@code offset} carries:
     * enough to tell whether the store holds it already, before compressing anything.
     */
    public static String sha256(byte[] raw, int offset, int length) {
        MessageDigest digest = Sha256.digest();
        digest.update(raw, offset, length);
        return Sha256.hex(digest.digest());
    }

    /**
     * A whole segment made of its streamed parts, which are encoded already: zstd frames one after
     * another decompress as one, so the segment is not compressed a second time. {@code sha256}
     * is the whole segment's, {@code raw} its bytes (for the system identifier).
     */
    public static Encoded joined(byte[] compressedParts, String sha256, byte[] raw, int length) {
        return encoded(compressedParts, sha256, length, systemIdentifier(raw));
    }

    private static Encoded encoded(byte[] compressed, String sha256, long length, OptionalLong systemIdentifier) {
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put(SHA256, sha256);
        metadata.put(SIZE, Long.toString(length));
        metadata.put(COMPRESSION, ZSTD);
        systemIdentifier.ifPresent(id -> metadata.put(SYSTEM_IDENTIFIER, Long.toUnsignedString(id)));
        return new Encoded(compressed, Map.copyOf(metadata), sha256, length);
    }

    /**
     * The uncompressed bytes of {@code object}, checked against its own metadata: the compression
     * it names, its size and its sha256. Throws {@link UnreadableWalException} when any disagrees.
     */
    public static byte[] decode(StoredObject object) {
        Map<String, String> metadata = object.metadata();
        String compression = metadata.getOrDefault(COMPRESSION, ZSTD);
        long size = parseSize(object);
        byte[] bytes;
        if (ZSTD.equals(compression)) {
            try {
                bytes = Zstd.decompress(object.bytes(), Math.toIntExact(size));
            } catch (ZstdException e) {
                throw new UnreadableWalException("does not decompress: " + e.getMessage());
            }
        } else if (NONE.equals(compression)) {
            bytes = object.bytes();
        } else {
            throw new UnreadableWalException("says compression '" + compression + "', which Keel does not read");
        }
        if (bytes.length != size) {
            throw new UnreadableWalException("holds " + bytes.length + " bytes, its metadata says " + size);
        }
        String sha256 = Sha256.of(bytes);
        String recorded = metadata.get(SHA256);
        if (!sha256.equals(recorded)) {
            throw new UnreadableWalException("is corrupt: its sha256 is " + sha256 + ", its metadata says " + recorded);
        }
        return bytes;
    }

    /** The system identifier in a segment's first page, when it starts with a long page header. */
    public static OptionalLong systemIdentifier(byte[] segment) {
        if (segment.length < SYSID_OFFSET + Long.BYTES) {
            return OptionalLong.empty();
        }
        ByteBuffer page = ByteBuffer.wrap(segment).order(ByteOrder.LITTLE_ENDIAN);
        int info = page.getShort(2) & 0xffff;
        if ((info & XLP_LONG_HEADER) == 0) {
            return OptionalLong.empty();
        }
        return OptionalLong.of(page.getLong(SYSID_OFFSET));
    }

    private static long parseSize(StoredObject object) {
        String size = object.metadata().get(SIZE);
        try {
            return Long.parseLong(size);
        } catch (NumberFormatException e) {
            throw new UnreadableWalException("has no readable size in its metadata ('" + size + "')");
        }
    }
}
