package dev.keel.dumps;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

import static org.assertj.core.api.Assertions.assertThat;

/** Which addresses a restore URL may not reach: those only Keel's own network can (DumpUrls.internal). */
class DumpUrlsTest {

    @ParameterizedTest(name = "{0}: internal {1}")
    @CsvSource({
            "127.0.0.1, true", "10.1.2.3, true", "172.16.0.1, true", "192.168.1.1, true", "169.254.169.254, true", "0.0.0.0, true",
            "100.64.0.1, true", "192.0.0.1, true", "198.18.0.1, true", "198.19.255.255, true", "240.0.0.1, true",
            "255.255.255.255, true", "224.0.0.1, true", "::1, true", "::, true", "fe80::1, true", "fd00::1, true",
            // NAT64 and 6to4 reach the IPv4 address they embed
            "64:ff9b::a9fe:a9fe, true", "64:ff9b::0a00:0001, true", "2002:a9fe:a9fe::1, true",
            "64:ff9b::5db8:d822, false", "2002:5db8:d822::1, false",
            // so do IPv4-mapped and IPv4-compatible addresses, in 16 bytes as a resolver may answer them
            "::ffff:7f00:1, true", "::ffff:a9fe:a9fe, true", "::ffff:a00:1, true", "::ffff:5db8:d822, false",
            "::7f00:1, true", "::a9fe:a9fe, true", "::5db8:d822, false",
            // and Teredo, its client's address inverted in the last 32 bits (127.0.0.1, 169.254.169.254, 93.184.216.34)
            "2001:0:4136:e378:8000:63bf:80ff:fffe, true", "2001:0:4136:e378:8000:63bf:5601:5601, true",
            "2001:0:4136:e378:8000:63bf:a247:27dd, false",
            // local-use NAT64 leads where the local network says
            "64:ff9b:1::5db8:d822, true",
            "93.184.216.34, false", "198.20.0.1, false", "192.0.2.1, false", "2606:2800:220:1:248:1893:25c8:1946, false",
            "2001:db8::1, false"})
    void internalAddressesAreRefused(String address, boolean internal) throws Exception {
        assertThat(DumpUrls.internal(parse(address))).isEqualTo(internal);
    }

    /** The address as a resolver may answer it: an IPv6 one in its 16 bytes, never unmapped (as InetAddress.getByName would). */
    private static InetAddress parse(String literal) throws UnknownHostException {
        if (!literal.contains(":")) {
            return InetAddress.getByName(literal);
        }
        String[] halves = literal.split("::", -1);
        String[] head = halves[0].isEmpty() ? new String[0] : halves[0].split(":");
        String[] tail = halves.length < 2 || halves[1].isEmpty() ? new String[0] : halves[1].split(":");
        byte[] bytes = new byte[16];
        for (int i = 0; i < head.length; i++) {
            put(bytes, i, head[i]);
        }
        for (int i = 0; i < tail.length; i++) {
            put(bytes, 8 - tail.length + i, tail[i]);
        }
        InetAddress address = Inet6Address.getByAddress(null, bytes, -1);
        assertThat(address).as(literal).isInstanceOf(Inet6Address.class);
        return address;
    }

    private static void put(byte[] bytes, int group, String hex) {
        int value = Integer.parseInt(hex, 16);
        bytes[2 * group] = (byte) (value >> 8);
        bytes[2 * group + 1] = (byte) value;
    }
}
