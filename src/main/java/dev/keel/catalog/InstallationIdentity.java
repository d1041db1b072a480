package dev.keel.catalog;

import dev.keel.KeelHome;
import dev.keel.PrivateFiles;
import dev.keel.StartupException;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import java.util.stream.Stream;

import static dev.keel.catalog.schema.Tables.INSTALLATION;

/**
 * Pairs a data directory with one catalog. The catalog's installation id is written into
 * {@code <data dir>/installation-id} on first start; a later start against a catalog with another
 * id (a fresh database behind KEEL_CATALOG_URL, a catalog restored from elsewhere) stops Keel
 * before anything compares the data directory's instances with a catalog that never knew them.
 */
@Singleton
public final class InstallationIdentity {
    private final Path file;
    private final Path instances;

    InstallationIdentity(KeelHome home) {
        this.file = home.resolve("installation-id");
        this.instances = home.serverDir().resolve("instances");
    }

    /** Checks the pairing (the catalog's installation row must exist); writes it on first start. */
    public UUID check(DSLContext dsl) {
        dsl.update(INSTALLATION).set(INSTALLATION.INSTALLATION_ID, UUID.randomUUID())
                .where(INSTALLATION.ID.eq(1)).and(INSTALLATION.INSTALLATION_ID.isNull()).execute();
        UUID catalogId = dsl.select(INSTALLATION.INSTALLATION_ID).from(INSTALLATION).where(INSTALLATION.ID.eq(1))
                .fetchSingle(INSTALLATION.INSTALLATION_ID);
        try {
            if (Files.isRegularFile(file)) {
                UUID dataDirId = UUID.fromString(Files.readString(file).strip());
                if (!dataDirId.equals(catalogId)) {
                    throw new StartupException("this data directory belongs to installation " + dataDirId + " but the catalog is"
                            + " installation " + catalogId + "; point KEEL_CATALOG_URL (or KEEL_DATA_DIR) at the pair that belongs"
                            + " together. Nothing was changed.");
                }
            } else if (holdsInstances()) {
                throw new StartupException("this data directory holds instances but no installation-id file, so Keel cannot tell"
                        + " whether catalog installation " + catalogId + " knows them; restore " + file + ". Nothing was changed.");
            } else {
                PrivateFiles.write(file, catalogId + "\n");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + file, e);
        }
        return catalogId;
    }

    /**
     * Whether the catalog {@code dsl} reaches is still the one this data directory belongs to; for
     * work after the start that compares the two (a catalog URL pointed elsewhere while Keel runs
     * would otherwise look as if every server had been deleted). Reads only.
     */
    public boolean matches(DSLContext dsl) {
        UUID catalogId = dsl.select(INSTALLATION.INSTALLATION_ID).from(INSTALLATION).where(INSTALLATION.ID.eq(1))
                .fetchOptional(INSTALLATION.INSTALLATION_ID).orElse(null);
        try {
            return catalogId != null && Files.isRegularFile(file) && UUID.fromString(Files.readString(file).strip()).equals(catalogId);
        } catch (IOException | IllegalArgumentException e) {
            return false;
        }
    }

    private boolean holdsInstances() throws IOException {
        if (!Files.isDirectory(instances)) {
            return false;
        }
        try (Stream<Path> entries = Files.list(instances)) {
            return entries.findAny().isPresent();
        }
    }
}
