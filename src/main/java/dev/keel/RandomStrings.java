package dev.keel;

import java.security.SecureRandom;

/** Unguessable strings from a CSPRNG: passwords, API keys, role and database names. */
public final class RandomStrings {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    private static final String LOWER_ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyz0123456789";

    private RandomStrings() {
    }

    /** {@code length} characters of [A-Za-z0-9]: 5.95 bits each. */
    public static String alphanumeric(int length) {
        return from(ALPHANUMERIC, length);
    }

    /** {@code length} characters of [a-z0-9]: safe unquoted in SQL identifiers and host names. */
    public static String lowerAlphanumeric(int length) {
        return from(LOWER_ALPHANUMERIC, length);
    }

    public static int number(int bound) {
        return RANDOM.nextInt(bound);
    }

    public static byte[] bytes(int length) {
        byte[] bytes = new byte[length];
        RANDOM.nextBytes(bytes);
        return bytes;
    }

    private static String from(String alphabet, int length) {
        StringBuilder out = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            out.append(alphabet.charAt(RANDOM.nextInt(alphabet.length())));
        }
        return out.toString();
    }
}
