package dev.keel.tenancy;

import dev.keel.KeelHome;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.postgres.ServerAccounts;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.Superuser;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A superuser escape in one database meets the OS: a session on database A with Keel's own
 * superuser credentials runs as A's own account, and its reads of database B's files, Keel's
 * secret key, the catalog (where the CA's key is sealed) and the object store's files are
 * refused by the kernel, through pg_read_binary_file and COPY ... FROM PROGRAM alike.
 */
@ExtendWith(SharedKeel.class)
class OsIsolationTest {
    private static Optional<Path> anyFile(Path dir) {
        if (!Files.isDirectory(dir.resolve("data"))) {
            return Optional.empty();
        }
        try (Stream<Path> files = Files.walk(dir.resolve("data"))) {
            return files.filter(Files::isRegularFile).findFirst();
        } catch (IOException | UncheckedIOException e) {
            return Optional.empty(); // a file went while walking: look again
        }
    }

    @Test
    void aSuperuserOfOneDatabaseCannotReadAnotherDatabaseOrKeelsSecrets(TestKeel keel) throws Exception {
        assumeTrue(KeelHome.runsAsRoot(), "each instance has an OS account of its own only when Keel runs as root (CI does)");
        Api api = keel.newTeam("os-" + System.nanoTime());
        String a = api.provision("{\"plan\":\"essential-0\"}").get("id").asText();
        String b = api.provision("{\"plan\":\"essential-0\"}").get("id").asText();
        try {
            Instance instanceA = primary(keel, a);
            Instance instanceB = primary(keel, b);
            Path servers = keel.serverDir();
            // Any object of the embedded store (WAL and backups of every database): B's WAL arrives within a second.
            Path stored = Wait.until("an object in the embedded store", Timeouts.PROVISION, () -> anyFile(keel.dataDir().resolve("s3")));
            List<Path> forbidden = List.of(
                    stored,
                    keel.instanceDataDir(instanceB.id()).resolve("PG_VERSION"),
                    keel.instanceDataDir(instanceB.id()).resolve("global").resolve("pg_control"),
                    keel.instanceDataDir(instanceB.id()).resolve("server.key"),
                    keel.dataDir().resolve("secret-key"),
                    keel.dataDir().resolve("catalog.properties"),
                    keel.dataDir().resolve("admin-api-key"),
                    servers.resolve("catalog").resolve("data").resolve("global").resolve("pg_control"));
            for (Path file : forbidden) {
                assertThat(file).as("the test's target must exist, or it proves nothing").exists();
            }
            try (Connection superuser = Superuser.connect(keel, instanceA, "postgres"); Statement sql = superuser.createStatement()) {
                sql.execute("create temporary table seen (line text)");
                sql.execute("copy seen from program 'id -un'");
                assertThat(Pg.scalar(superuser, "select line from seen")).isEqualTo(ServerAccounts.accountName(instanceA.id()));
                for (Path file : forbidden) {
                    assertThatThrownBy(() -> Pg.scalar(superuser, "select pg_read_binary_file('" + file + "')"))
                            .as("pg_read_binary_file of " + file)
                            .isInstanceOfSatisfying(SQLException.class, e -> {
                                assertThat(e.getSQLState()).isEqualTo("42501");
                                assertThat(e.getMessage()).contains("Permission denied");
                            });
                    sql.execute("truncate seen");
                    sql.execute("copy seen from program 'cat " + file + " 2>&1; true'");
                    assertThat(Pg.scalar(superuser, "select string_agg(line, '|') from seen")).as("cat " + file)
                            .endsWith("Permission denied");
                }
                // Its own files it reads: the refusals above are the OS's, not a blanket ban.
                Path own = keel.instanceDataDir(instanceA.id()).resolve("PG_VERSION");
                assertThat(Pg.scalar(superuser, "select convert_from(pg_read_binary_file('" + own + "'), 'UTF8')"))
                        .isEqualTo(Files.readString(own));
            }
        } finally {
            api.deprovision(a);
            api.deprovision(b);
        }
    }

    private static Instance primary(TestKeel keel, String id) {
        return keel.bean(InstanceRepository.class).primary(UUID.fromString(id)).orElseThrow();
    }
}
