package dev.keel.credentials;

import dev.keel.KeelHome;
import dev.keel.PrivateFiles;
import dev.keel.RandomStrings;
import dev.keel.StartupException;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;

import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.Base64;
import java.util.List;
import java.util.Optional;

import static dev.keel.catalog.schema.Tables.INSTALLATION;

/**
 * Seals secrets (passwords, private keys) for storage in the catalog with AES-256-GCM under
 * {@code KEEL_SECRET_KEY}, or a key generated once into {@code <data dir>/secret-key}. Each
 * sealed value is bound to a context string (e.g. {@code credential:<id>}), so a value copied
 * into another row does not open.
 */
@Singleton
public final class Secrets {
    private static final byte FORMAT = 1;
    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;
    private static final String CHECK_CONTEXT = "installation";
    private static final String CHECK_VALUE = "keel";

    private final SecretKeySpec key;
    private final String keySource;

    Secrets(KeelHome home, @Value("${keel.secret-key}") String configured) {
        if (!configured.isBlank()) {
            this.key = new SecretKeySpec(decode(configured.strip()), "AES");
            this.keySource = "KEEL_SECRET_KEY";
        } else {
            Path file = home.resolve("secret-key");
            this.key = new SecretKeySpec(readOrCreate(file), "AES");
            this.keySource = file.toString();
        }
    }

    private static byte[] decode(String base64) {
        byte[] raw;
        try {
            raw = Base64.getDecoder().decode(base64);
        } catch (IllegalArgumentException e) {
            raw = new byte[0];
        }
        if (raw.length != 32) {
            throw new StartupException("KEEL_SECRET_KEY must be 32 random bytes in base64 (make one with: openssl rand -base64 32)");
        }
        return raw;
    }

    private static byte[] readOrCreate(Path file) {
        try {
            if (Files.isRegularFile(file)) {
                return decode(Files.readString(file).strip());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + file, e);
        }
        byte[] raw = RandomStrings.bytes(32);
        PrivateFiles.write(file, Base64.getEncoder().encodeToString(raw) + "\n");
        return raw;
    }

    public byte[] seal(String plaintext, String context) {
        try {
            byte[] nonce = RandomStrings.bytes(NONCE_BYTES);
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
            cipher.updateAAD(context.getBytes(StandardCharsets.UTF_8));
            byte[] sealed = cipher.doFinal(plaintext.getBytes(StandardCharsets.UTF_8));
            return ByteBuffer.allocate(1 + NONCE_BYTES + sealed.length).put(FORMAT).put(nonce).put(sealed).array();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is not available", e);
        }
    }

    /** Opens a value sealed for {@code context}; throws if the key, context or bytes differ. */
    public String open(byte[] sealed, String context) {
        if (sealed.length < 1 + NONCE_BYTES || sealed[0] != FORMAT) {
            throw new IllegalStateException("not a sealed value of format " + FORMAT);
        }
        try {
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, sealed, 1, NONCE_BYTES));
            cipher.updateAAD(context.getBytes(StandardCharsets.UTF_8));
            byte[] plain = cipher.doFinal(sealed, 1 + NONCE_BYTES, sealed.length - 1 - NONCE_BYTES);
            return new String(plain, StandardCharsets.UTF_8);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("a sealed secret does not open for " + context + ": wrong key or altered bytes", e);
        }
    }

    /**
     * A URL-safe token that carries {@code parts} (joined by {@code |}, which none may hold) sealed
     * for {@code context}, for another node or a later request to read back ({@link #openToken}).
     */
    public String sealToken(String context, String... parts) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(seal(String.join("|", parts), context));
    }

    /** The parts of a token sealed for {@code context}; empty when it is garbled, altered, or sealed with another key or context. */
    public Optional<List<String>> openToken(String token, String context) {
        try {
            return Optional.of(List.of(open(Base64.getUrlDecoder().decode(token), context).split("\\|", -1)));
        } catch (IllegalArgumentException | IllegalStateException e) {
            return Optional.empty();
        }
    }

    /**
     * A key for {@code purpose} (signing download links, say) derived from the sealing key
     * (HMAC-SHA256 of the purpose), so every node sharing the key derives the same one and no
     * second secret needs keeping; the sealing key itself never leaves this class.
     */
    public byte[] derivedKey(String purpose) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key.getEncoded(), "HmacSHA256"));
            return mac.doFinal(("keel derived key: " + purpose).getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA256 is not available", e);
        }
    }

    /**
     * On start: records the check value in a new catalog, or proves that this key opens the one
     * already there, so a wrong key stops Keel at once instead of failing every secret later.
     */
    public void checkAgainstCatalog(DSLContext dsl) {
        dsl.insertInto(INSTALLATION)
                .set(INSTALLATION.ID, 1)
                .set(INSTALLATION.SECRET_CHECK, seal(CHECK_VALUE, CHECK_CONTEXT))
                .onConflictDoNothing()
                .execute();
        byte[] check = dsl.select(INSTALLATION.SECRET_CHECK).from(INSTALLATION).where(INSTALLATION.ID.eq(1)).fetchSingle().value1();
        try {
            if (!CHECK_VALUE.equals(open(check, CHECK_CONTEXT))) {
                throw new IllegalStateException("check value differs");
            }
        } catch (IllegalStateException e) {
            throw new StartupException("the secret key from " + keySource + " is not the key this catalog's secrets were sealed with;"
                    + " start Keel with the original KEEL_SECRET_KEY (or <data dir>/secret-key)");
        }
    }
}
