package dev.keel.archive;

import dev.keel.storage.StoredObject;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WalFormatTest {
    private static final int SEGMENT = 16 * 1024 * 1024;

    /** A segment whose first page has a long header naming system {@code system}, then WAL-like bytes. */
    private static byte[] segment(long system) {
        byte[] bytes = new byte[SEGMENT];
        Random random = new Random(7);
        for (int i = 40; i < SEGMENT; i += 64) {
            bytes[i] = (byte) random.nextInt(); // mostly zeros, like a quiet server's WAL
        }
        ByteBuffer page = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        page.putShort(0, (short) 0xD116);
        page.putShort(2, (short) 0x0002);
        page.putLong(24, system);
        return bytes;
    }

    @Test
    void aSegmentJoinedFromItsStreamedPartsReadsBackAsTheWholeSegment() {
        byte[] raw = segment(7_300_000_000_000_000_123L);
        java.io.ByteArrayOutputStream parts = new java.io.ByteArrayOutputStream();
        int[] cuts = {0, 8192, 1_000_000, 9_999_999, SEGMENT};
        for (int i = 0; i + 1 < cuts.length; i++) {
            parts.writeBytes(WalFormat.encode(raw, cuts[i], cuts[i + 1] - cuts[i]).stored());
        }
        WalFormat.Encoded whole = WalFormat.encode(raw, SEGMENT);
        WalFormat.Encoded joined = WalFormat.joined(parts.toByteArray(), whole.sha256(), raw, SEGMENT);

        assertThat(joined.metadata()).isEqualTo(whole.metadata());
        assertThat(joined.metadata()).containsEntry("system-identifier", "7300000000000000123");
        assertThat(WalFormat.decode(new StoredObject("joined", joined.stored(), joined.metadata()))).isEqualTo(raw);
    }

    @Test
    void anObjectThatDisagreesWithItsMetadataIsRefused() {
        byte[] raw = segment(1);
        WalFormat.Encoded encoded = WalFormat.encode(raw, SEGMENT);
        Map<String, String> wrongSha = new HashMap<>(encoded.metadata());
        wrongSha.put("sha256", "0".repeat(64));
        assertThatThrownBy(() -> WalFormat.decode(new StoredObject("k", encoded.stored(), wrongSha)))
                .isInstanceOf(UnreadableWalException.class).hasMessageContaining("is corrupt");
        Map<String, String> unknown = new HashMap<>(encoded.metadata());
        unknown.put("compression", "lz4");
        assertThatThrownBy(() -> WalFormat.decode(new StoredObject("k", encoded.stored(), unknown)))
                .isInstanceOf(UnreadableWalException.class).hasMessageContaining("lz4");
        Map<String, String> none = new HashMap<>(encoded.metadata());
        none.put("compression", "none");
        assertThat(WalFormat.decode(new StoredObject("k", raw, none))).isEqualTo(raw);
    }
}
