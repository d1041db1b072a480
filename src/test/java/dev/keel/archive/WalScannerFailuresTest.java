package dev.keel.archive;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.jobs.Loops;
import dev.keel.testing.Api;
import dev.keel.testing.ArchiveWaits;
import dev.keel.testing.LogCapture;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/** An Error inside the WAL scanner's loop is logged, and the scanner keeps shipping WAL. */
@ExtendWith(SharedKeel.class)
class WalScannerFailuresTest {
    @Test
    void anErrorInAScanIsLoggedAndWalIsStillArchived(TestKeel keel) throws Exception {
        Api api = keel.api(); // ArchiveWaits reads the archive as the admin
        JsonNode db = api.provision("{\"plan\":\"essential-0\"}");
        WalArchiver archiver = keel.bean(WalArchiver.class);
        AtomicBoolean fail = new AtomicBoolean(true);
        try (LogCapture log = new LogCapture(Loops.class)) {
            archiver.seam = () -> {
                if (fail.getAndSet(false)) {
                    throw new Error("injected into the WAL scanner");
                }
            };
            Wait.until("the injected Error to be thrown", Timeouts.REQUEST, () -> !fail.get());
            ArchiveWaits.switchAndAwaitArchived(keel, db.get("id").asText());
            assertThat(log.lines()).contains("Scanning the WAL spools failed; it runs again on its schedule | java.lang.Error: injected into"
                    + " the WAL scanner");
        } finally {
            archiver.seam = () -> { };
            api.delete("/v1/databases/" + db.get("id").asText()); // not awaited: a failure above must show, not a slow deletion
        }
    }
}
