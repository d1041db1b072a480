package dev.keel.postgres;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WalNamesTest {
    @Test
    void lsnsParseAndPrintAsPostgresDoes() {
        assertThat(Lsn.parse("16/B374D848").value()).isEqualTo(0x16B374D848L);
        assertThat(Lsn.parse("16/B374D848")).hasToString("16/B374D848");
        assertThat(Lsn.parse("0/3000028")).hasToString("0/3000028");
        assertThat(Lsn.parse("FFFFFFFF/FFFFFFFF").compareTo(Lsn.ZERO)).isPositive();
        assertThat(Lsn.parse("0/3000028").bytesSince(Lsn.parse("0/3000000"))).isEqualTo(0x28);
    }

    @Test
    void malformedLsnsAreRefusedSayingTheForm() {
        for (String bad : new String[] {"", "16", "/1", "1/", "G/1", "123456789/0"}) {
            assertThatThrownBy(() -> Lsn.parse(bad)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not an LSN");
        }
    }

    @Test
    void segmentNamesRoundTripAndKnowTheirLsns() {
        WalSegmentName name = WalSegmentName.parse("000000010000000A000000FF");
        assertThat(name.timeline()).isEqualTo(new TimelineId(1));
        assertThat(name.number()).isEqualTo(0xA * 256 + 0xFF);
        assertThat(name).hasToString("000000010000000A000000FF");
        assertThat(name.next()).hasToString("000000010000000B00000000");
        assertThat(name.startLsn()).hasToString("A/FF000000");
        assertThat(name.endLsn()).isEqualTo(name.next().startLsn());
        assertThat(WalSegmentName.containing(new TimelineId(2), Lsn.parse("0/3000028"))).hasToString("000000020000000000000003");
    }

    @Test
    void segmentsOrderByTimelineThenNumber() {
        assertThat(WalSegmentName.parse("000000010000000000000009"))
                .isLessThan(WalSegmentName.parse("00000001000000000000000A"))
                .isLessThan(WalSegmentName.parse("000000020000000000000001"));
    }

    @Test
    void archivedFileNamesAreClassified() {
        assertThat(WalFileName.parse("000000010000000000000003").orElseThrow().kind()).isEqualTo(WalFileName.Kind.SEGMENT);
        WalFileName history = WalFileName.parse("00000002.history").orElseThrow();
        assertThat(history.kind()).isEqualTo(WalFileName.Kind.HISTORY);
        assertThat(history.timeline()).isEqualTo(new TimelineId(2));
        assertThat(history.segment()).isEmpty();
        assertThat(WalFileName.parse("000000010000000000000003.partial").orElseThrow().kind()).isEqualTo(WalFileName.Kind.PARTIAL);
        WalFileName backup = WalFileName.parse("000000010000000000000002.00000028.backup").orElseThrow();
        assertThat(backup.kind()).isEqualTo(WalFileName.Kind.BACKUP_HISTORY);
        assertThat(backup.segment()).hasValue(WalSegmentName.parse("000000010000000000000002"));
        assertThat(WalFileName.parse("archive_status")).isEmpty();
        assertThat(WalFileName.parse("00000001000000000000000g")).isEmpty();
    }

    @Test
    void segmentNamesBeyondSixteenMebibytesAreRefused() {
        assertThatThrownBy(() -> WalSegmentName.parse("000000010000000000000100")).hasMessageContaining("not a 16 MiB WAL segment name");
    }
}
