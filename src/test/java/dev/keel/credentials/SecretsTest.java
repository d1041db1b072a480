package dev.keel.credentials;

import dev.keel.KeelHome;
import dev.keel.RandomStrings;
import dev.keel.StartupException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SecretsTest {
    @TempDir
    Path dir;

    private Secrets secrets(String configuredKey) {
        return new Secrets(new KeelHome(dir.toString(), ""), configuredKey);
    }

    @Test
    void sealedValuesOpenWithTheSameContextAndDoNotShowThePlaintext() {
        Secrets secrets = secrets("");
        byte[] sealed = secrets.seal("hunter2-password", "credential:1");
        assertThat(new String(sealed, java.nio.charset.StandardCharsets.ISO_8859_1)).doesNotContain("hunter2");
        assertThat(secrets.open(sealed, "credential:1")).isEqualTo("hunter2-password");
        assertThat(secrets.seal("hunter2-password", "credential:1")).isNotEqualTo(sealed);
    }

    @Test
    void aValueMovedToAnotherContextDoesNotOpen() {
        Secrets secrets = secrets("");
        byte[] sealed = secrets.seal("p", "credential:1");
        assertThatThrownBy(() -> secrets.open(sealed, "credential:2")).hasMessageContaining("does not open for credential:2");
    }

    @Test
    void flippedBytesDoNotOpen() {
        Secrets secrets = secrets("");
        byte[] sealed = secrets.seal("p", "c");
        sealed[sealed.length - 1] ^= 1;
        assertThatThrownBy(() -> secrets.open(sealed, "c")).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aTokenGivesBackItsPartsForItsContextOnly() {
        Secrets secrets = secrets("");
        String token = secrets.sealToken("log-read", "1", "a b", "", "x");
        assertThat(token).matches("[A-Za-z0-9_-]+");
        assertThat(secrets.openToken(token, "log-read")).contains(java.util.List.of("1", "a b", "", "x"));
        assertThat(secrets.openToken(token, "vouch")).as("another context").isEmpty();
        assertThat(secrets.openToken(token.substring(0, token.length() - 2) + (token.endsWith("A") ? "BB" : "AA"), "log-read"))
                .as("altered").isEmpty();
        assertThat(secrets.openToken("not base64!", "log-read")).as("garbled").isEmpty();
        assertThat(secrets("").openToken(token, "log-read")).as("the same key, read again").isPresent();
    }

    @Test
    void aGeneratedKeyIsWrittenPrivatelyAndReusedOnTheNextStart() throws Exception {
        byte[] sealed = secrets("").seal("p", "c");
        Path keyFile = dir.resolve("secret-key");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(keyFile))).isEqualTo("rw-------");
        assertThat(secrets("").open(sealed, "c")).isEqualTo("p");
    }

    @Test
    void aConfiguredKeyIsUsedAndADifferentKeyCannotOpen() {
        String key = Base64.getEncoder().encodeToString(RandomStrings.bytes(32));
        byte[] sealed = secrets(key).seal("p", "c");
        assertThat(secrets(key).open(sealed, "c")).isEqualTo("p");
        assertThat(Files.exists(dir.resolve("secret-key"))).isFalse();
        assertThatThrownBy(() -> secrets("").open(sealed, "c")).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aKeyOfTheWrongSizeStopsKeelWithHowToMakeOne() {
        assertThatThrownBy(() -> secrets(Base64.getEncoder().encodeToString(new byte[16])))
                .isInstanceOf(StartupException.class)
                .hasMessage("KEEL_SECRET_KEY must be 32 random bytes in base64 (make one with: openssl rand -base64 32)");
        assertThatThrownBy(() -> secrets("not base64!")).isInstanceOf(StartupException.class);
    }
}
