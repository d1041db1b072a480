package dev.keel.dumps;

import dev.keel.Ids;
import dev.keel.credentials.Secrets;
import dev.keel.postgres.Durations;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Optional;
import java.util.UUID;

/**
 * Signed, expiring download links of logical backups ({@code pg:backups:url}): the path names the
 * backup, the query its expiry and an HMAC-SHA256 of both under a key derived from Keel's sealing
 * key, so any node can check a link and nobody can make or stretch one.
 */
@Singleton
final class DumpLinks {
    static final String PATH = "/dumps/";

    private final byte[] key;
    private final Duration ttl;

    DumpLinks(Secrets secrets, @Value("${keel.backups.url-ttl:10m}") String ttl) {
        this.key = secrets.derivedKey("dump download links");
        this.ttl = Durations.parse("KEEL_BACKUPS_URL_TTL", ttl);
    }

    /** A link's path and query ({@code /dumps/<id>?expires=...&signature=...}) and when it expires. */
    record Signed(String pathAndQuery, Instant expiresAt) {
    }

    Signed sign(UUID backup, Instant now) {
        Instant expires = now.plus(ttl);
        long epoch = expires.getEpochSecond();
        return new Signed(PATH + backup + "?expires=" + epoch + "&signature=" + signature(backup, epoch), expires);
    }

    /** The backup a link names, when its signature is right and it has not expired at {@code now}. */
    Optional<UUID> verify(String path, String query, Instant now) {
        if (path == null || !path.startsWith(PATH) || query == null) {
            return Optional.empty();
        }
        Optional<UUID> backup = Ids.parse(path.substring(PATH.length()));
        String expires = parameter(query, "expires");
        String signature = parameter(query, "signature");
        if (backup.isEmpty() || expires == null || signature == null || !expires.matches("\\d{1,12}")) {
            return Optional.empty();
        }
        long epoch = Long.parseLong(expires);
        boolean valid = MessageDigest.isEqual(signature(backup.get(), epoch).getBytes(StandardCharsets.US_ASCII),
                signature.getBytes(StandardCharsets.US_ASCII));
        return valid && now.getEpochSecond() <= epoch ? backup : Optional.empty();
    }

    private static String parameter(String query, String name) {
        for (String pair : query.split("&")) {
            if (pair.startsWith(name + "=")) {
                return pair.substring(name.length() + 1);
            }
        }
        return null;
    }

    private String signature(UUID backup, long expires) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return HexFormat.of().formatHex(mac.doFinal((backup + "\n" + expires).getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA256 is not available", e);
        }
    }
}
