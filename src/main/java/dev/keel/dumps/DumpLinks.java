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
 * backup, the query its expiry, the API key that asked for it and an HMAC-SHA256 of the three
 * under a key derived from Keel's sealing key, so any node can check a link, nobody can make or
 * stretch one, and the server can refuse it once that API key is revoked.
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

    /** A link's path and query ({@code /dumps/<id>?expires=...&key=...&signature=...}) and when it expires. */
    record Signed(String pathAndQuery, Instant expiresAt) {
    }

    /** What a valid link names: the backup, and the API key that asked for the link. */
    record Link(UUID backupId, UUID keyId) {
    }

    Signed sign(UUID backup, UUID keyId, Instant now) {
        Instant expires = now.plus(ttl);
        long epoch = expires.getEpochSecond();
        return new Signed(PATH + backup + "?expires=" + epoch + "&key=" + keyId + "&signature=" + signature(backup, epoch, keyId), expires);
    }

    /** What a link names, when its signature is right and it has not expired at {@code now}. */
    Optional<Link> verify(String path, String query, Instant now) {
        if (path == null || !path.startsWith(PATH) || query == null) {
            return Optional.empty();
        }
        Optional<UUID> backup = Ids.parse(path.substring(PATH.length()));
        String expires = parameter(query, "expires");
        String signature = parameter(query, "signature");
        String key = parameter(query, "key");
        Optional<UUID> keyId = key == null ? Optional.empty() : Ids.parse(key);
        if (backup.isEmpty() || keyId.isEmpty() || expires == null || signature == null || !expires.matches("\\d{1,12}")) {
            return Optional.empty();
        }
        long epoch = Long.parseLong(expires);
        boolean valid = MessageDigest.isEqual(signature(backup.get(), epoch, keyId.get()).getBytes(StandardCharsets.US_ASCII),
                signature.getBytes(StandardCharsets.US_ASCII));
        return valid && now.getEpochSecond() <= epoch ? Optional.of(new Link(backup.get(), keyId.get())) : Optional.empty();
    }

    private static String parameter(String query, String name) {
        for (String pair : query.split("&")) {
            if (pair.startsWith(name + "=")) {
                return pair.substring(name.length() + 1);
            }
        }
        return null;
    }

    private String signature(UUID backup, long expires, UUID keyId) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return HexFormat.of().formatHex(mac.doFinal((backup + "\n" + expires + "\n" + keyId).getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA256 is not available", e);
        }
    }
}
