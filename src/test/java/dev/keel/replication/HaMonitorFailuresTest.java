package dev.keel.replication;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.jobs.Loops;
import dev.keel.testing.Api;
import dev.keel.testing.LogCapture;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** An Error inside the failover monitor, in its round or in one database's check, is logged and the monitor goes on checking. */
@ExtendWith(SharedKeel.class)
class HaMonitorFailuresTest {
    @Test
    void anErrorInTheMonitorsRoundOrInACheckIsLoggedAndTheMonitorKeepsChecking(TestKeel keel) {
        Api api = keel.newTeam("ha-failures-" + System.nanoTime() % 100_000);
        JsonNode db = api.provision("{\"plan\":\"premium-0\"}");
        String name = db.get("name").asText();
        HaMonitor monitor = keel.bean(HaMonitor.class);
        AtomicInteger rounds = new AtomicInteger();
        AtomicInteger checks = new AtomicInteger();
        AtomicBoolean failRound = new AtomicBoolean(true);
        AtomicBoolean failCheck = new AtomicBoolean(true);
        try (LogCapture log = new LogCapture(Loops.class)) {
            monitor.seam = what -> {
                if (what.equals("round")) {
                    rounds.incrementAndGet();
                    if (failRound.getAndSet(false)) {
                        throw new NoClassDefFoundError("injected into the HA monitor's round");
                    }
                } else if (what.equals(name)) {
                    checks.incrementAndGet();
                    if (failCheck.getAndSet(false)) {
                        throw new Error("injected into the check of " + name);
                    }
                }
            };
            Wait.until("the monitor's rounds after the one that failed", Timeouts.PROVISION, () -> rounds.get() >= 3);
            Wait.until("checks of " + name + " after the one that failed", Timeouts.PROVISION, () -> checks.get() >= 3);
            assertThat(log.lines()).contains("The HA monitor's round failed; it runs again on its schedule | java.lang.NoClassDefFoundError:"
                            + " injected into the HA monitor's round",
                    "The HA monitor's check of " + name + " failed; it runs again on its schedule | java.lang.Error: injected into the check of "
                            + name);
        } finally {
            monitor.seam = what -> { };
            api.delete("/v1/databases/" + db.get("id").asText()); // not awaited: a failure above must show, not a slow deletion
        }
    }
}
