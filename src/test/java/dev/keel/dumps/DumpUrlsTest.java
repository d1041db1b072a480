package dev.keel.dumps;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.InetAddress;

import static org.assertj.core.api.Assertions.assertThat;

/** Which addresses a restore URL may not reach: those only Keel's own network can (DumpUrls.internal). */
class DumpUrlsTest {

    @ParameterizedTest(name = "{0}: internal {1}")
    @CsvSource({
            "127.0.0.1, true", "10.1.2.3, true", "172.16.0.1, true", "192.168.1.1, true", "169.254.169.254, true", "0.0.0.0, true",
            "100.64.0.1, true", "192.0.0.1, true", "198.18.0.1, true", "198.19.255.255, true", "240.0.0.1, true",
            "255.255.255.255, true", "224.0.0.1, true", "::1, true", "fe80::1, true", "fd00::1, true",
            // NAT64 and 6to4 reach the IPv4 address they embed
            "64:ff9b::a9fe:a9fe, true", "64:ff9b::0a00:0001, true", "2002:a9fe:a9fe::1, true",
            "64:ff9b::5db8:d822, false", "2002:5db8:d822::1, false",
            "93.184.216.34, false", "198.20.0.1, false", "192.0.2.1, false", "2606:2800:220:1:248:1893:25c8:1946, false"})
    void internalAddressesAreRefused(String address, boolean internal) throws Exception {
        assertThat(DumpUrls.internal(InetAddress.getByName(address))).isEqualTo(internal);
    }
}
