package dev.keel.postgres;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The configuration a change replaces, kept as one change's until the server accepts or refuses its replacement. */
class ServerFilesKeptTest {
    private static final ServerUser SELF = ServerUser.self();

    private static void change(Path dir, String version) {
        ServerFiles.replaceConfiguration(dir, Map.of("application_name", version), List.of(HbaRule.hostssl(version, "all", "scram-sha-256")), SELF);
    }

    private static void accepted(Path dir) {
        ServerFiles.forgetPrevious(dir);
    }

    private static String settings(Path dir) throws IOException {
        return Files.readString(dir.resolve("keel.conf"));
    }

    private static String rules(Path dir) throws IOException {
        return Files.readString(dir.resolve("pg_hba.conf"));
    }

    private static Path server(Path dir) throws IOException {
        Files.writeString(dir.resolve("postgresql.conf"), "# initdb's\n");
        change(dir, "one");
        accepted(dir);
        return dir;
    }

    @Test
    void aRefusalPutsBackTheFilesOfTheLastAcceptedChangeEvenAfterChangesNobodyAcceptedOrRefused(@TempDir Path dir) throws IOException {
        server(dir);
        String settings = settings(dir);
        String rules = rules(dir);
        change(dir, "two");
        change(dir, "three"); // Keel stopped before it took or refused "two"
        assertThat(settings(dir)).contains("three");
        assertThat(ServerFiles.restorePrevious(dir)).isTrue();
        assertThat(settings(dir)).isEqualTo(settings);
        assertThat(rules(dir)).isEqualTo(rules);
        assertThat(ServerFiles.restorePrevious(dir)).as("nothing kept any more").isFalse();
        assertThat(ServerFiles.KEPT_FILES).allSatisfy(name -> assertThat(dir.resolve(name)).doesNotExist());
    }

    @Test
    void aChangeWrittenHalfIsPutBackWhole(@TempDir Path dir) throws IOException {
        server(dir);
        String settings = settings(dir);
        String rules = rules(dir);
        // Its pg_hba.conf cannot be written (here a directory holds the name it is written under first): keel.conf is new.
        Files.createDirectories(dir.resolve(".pg_hba.conf.tmp").resolve("taken"));
        assertThatThrownBy(() -> change(dir, "two")).hasMessageContaining("pg_hba.conf");
        assertThat(settings(dir)).contains("two");
        assertThat(ServerFiles.restorePrevious(dir)).isTrue();
        assertThat(settings(dir)).isEqualTo(settings);
        assertThat(rules(dir)).isEqualTo(rules);
        assertThat(ServerFiles.KEPT_FILES).as("nothing kept, the copy of the file never replaced too")
                .allSatisfy(name -> assertThat(dir.resolve(name)).doesNotExist());
    }

    @Test
    void aLinkPutInPlaceOfAFileIsReplacedByTheKeptFileNotTakenForIt(@TempDir Path dir) throws IOException {
        server(dir);
        String rules = rules(dir);
        change(dir, "two");
        // The data directory's owner puts a link to the kept copy where pg_hba.conf was.
        Files.delete(dir.resolve("pg_hba.conf"));
        Files.createSymbolicLink(dir.resolve("pg_hba.conf"), dir.resolve("pg_hba.conf.previous"));
        assertThat(ServerFiles.restorePrevious(dir)).isTrue();
        assertThat(dir.resolve("pg_hba.conf")).isRegularFile().content().isEqualTo(rules);
        assertThat(Files.isSymbolicLink(dir.resolve("pg_hba.conf"))).isFalse();
    }

    @Test
    void keptFilesOfNoOneChangeAreNeitherPutBackNorKept(@TempDir Path dir) throws IOException {
        server(dir);
        String oldRules = rules(dir);
        change(dir, "two");
        // Keel stopped while it dropped what "two" replaced, once the server accepted it: the mark and the settings gone, the
        // rules of "one" still kept.
        Files.deleteIfExists(dir.resolve("keel.previous.complete"));
        Files.delete(dir.resolve("keel.conf.previous"));
        assertThat(dir.resolve("pg_hba.conf.previous")).content().isEqualTo(oldRules);
        assertThat(ServerFiles.restorePrevious(dir)).as("no change's whole set").isFalse();
        assertThat(settings(dir)).contains("two");

        String settings = settings(dir);
        String rules = rules(dir);
        change(dir, "three");
        assertThat(ServerFiles.restorePrevious(dir)).isTrue();
        assertThat(settings(dir)).as("two's settings, which the server accepted").isEqualTo(settings);
        assertThat(rules(dir)).as("two's rules, not one's").isEqualTo(rules).isNotEqualTo(oldRules);
    }
}
