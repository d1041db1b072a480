package dev.keel.http;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;

/** The decoded {@code user:password} of an {@code Authorization: Basic ...} header (RFC 7617). */
public final class BasicAuthorization {
    private static final String BASIC = "Basic ";

    private BasicAuthorization() {
    }

    /** The header's {@code user:password} bytes; empty when it is not Basic or not base64. */
    public static Optional<byte[]> pair(String header) {
        if (header == null || !header.regionMatches(true, 0, BASIC, 0, BASIC.length())) {
            return Optional.empty();
        }
        try {
            return Optional.of(Base64.getDecoder().decode(header.substring(BASIC.length()).strip()));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** The password part (after the first {@code :}); empty as {@link #pair}. */
    public static Optional<String> password(String header) {
        return pair(header).map(bytes -> new String(bytes, StandardCharsets.UTF_8)).map(p -> p.substring(p.indexOf(':') + 1));
    }
}
