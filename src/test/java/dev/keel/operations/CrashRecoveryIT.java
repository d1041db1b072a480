package dev.keel.operations;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Footprint;
import dev.keel.testing.KeelProcess;
import dev.keel.testing.Pg;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code kill -9} of Keel at each step of provisioning and during deletion: the next start
 * finishes the work or fails the database with a reason, and leaves no orphaned postmaster,
 * data directory or port.
 */
// Minutes long: started among the first (junit-platform.properties).
@Order(7)
class CrashRecoveryIT {
    private static final List<String> PROVISION_STEPS = List.of(
            "preparing Postgres binaries", "reserving a port", "initializing", "starting", "creating credentials");

    @Test
    void killNineAtEachProvisioningStepIsRecoveredWithoutOrphans() throws Exception {
        Path dataDir = TestKeel.freshDataDir("crash-provision");
        TestKeel.Ports ports = TestKeel.nextPorts();
        KeelProcess keel = KeelProcess.start(dataDir, ports, "0", KeelProcess.NO_POOL);
        List<String> databases = new ArrayList<>();
        try {
            for (int i = 0; i < PROVISION_STEPS.size(); i++) {
                // A provision takes about 2 s on an idle machine, its first steps milliseconds: one that ended before it was seen
                // at step i or later is not what is tested here, and another is asked for.
                String id = null;
                String operation = null;
                String step = null;
                for (int attempt = 1; step == null; attempt++) {
                    assertThat(attempt).as("provisions that all ended before one was seen at step '%s'", PROVISION_STEPS.get(i))
                            .isLessThanOrEqualTo(5);
                    Api.Response created = keel.api().post("/v1/databases", "{\"plan\":\"essential-0\"}");
                    assertThat(created.status()).isEqualTo(202);
                    id = created.field("id");
                    operation = created.json().get("progress").get("operation_id").asText();
                    databases.add(id);
                    step = awaitStepAtLeast(keel.api(), id, i).orElse(null);
                }
                keel.kill9();

                keel = KeelProcess.start(dataDir, ports, Integer.toString(i + 1), KeelProcess.NO_POOL);
                JsonNode settled = keel.api().awaitSettled(id);
                assertThat(settled.get("state").asText()).as("after a kill at or after '%s'", step).isEqualTo("available");
                // Killed while still creating (the last step, as seen, may have just finished): retried from the start.
                String retried = "Reconciler decision: RETRY " + operation + ": retrying provisioning from the start (attempt 2 of 3): "
                        + "Keel stopped during step '";
                if (step.equals(PROVISION_STEPS.get(PROVISION_STEPS.size() - 1))) {
                    // It may even have ended between the look and the kill: then this start has nothing of it to decide.
                    if (keel.log().contains(operation)) {
                        assertThat(keel.log()).containsAnyOf(retried, "Reconciler decision: DONE " + operation
                                + ": provisioning had finished: the database is available");
                    }
                } else {
                    assertThat(keel.log()).contains(retried);
                }
                Footprint.assertMatchesApi(keel.api(), dataDir);
            }
        } finally {
            for (String id : databases) {
                keel.api().deprovision(id);
            }
            assertThat(Footprint.instanceDirs(dataDir)).isEmpty();
            assertThat(Footprint.runningInstanceDataDirs(dataDir)).isEmpty();
            keel.stop();
            dev.keel.Keel.stopServers(dataDir);
        }
    }

    @Test
    void provisioningInterruptedThreeTimesFailsWithTheReasonAndRemovesWhatItMade() throws Exception {
        Path dataDir = TestKeel.freshDataDir("crash-repeated");
        TestKeel.Ports ports = TestKeel.nextPorts();
        KeelProcess keel = KeelProcess.start(dataDir, ports, "0", KeelProcess.NO_POOL);
        try {
            Set<Long> frozen = new java.util.HashSet<>();
            // Each attempt is held in its initdb, frozen with SIGSTOP the moment it appears, so Keel is always killed
            // mid-provision; the frozen initdb is then killed too, as it would be with the machine. The watch starts
            // before the request and before each restart: a restarted Keel resumes the provision before its API answers.
            Future<Long> initdb = freezeNextInitdb(dataDir, frozen);
            String id = keel.api().post("/v1/databases", "{\"plan\":\"essential-0\"}").field("id");
            for (int attempt = 1; attempt <= 3; attempt++) {
                long pid = awaitFrozen(initdb, keel, attempt);
                frozen.add(pid);
                keel.kill9();
                Footprint.signal("KILL", pid);
                initdb = attempt < 3 ? freezeNextInitdb(dataDir, frozen) : null;
                keel = KeelProcess.start(dataDir, ports, Integer.toString(attempt), KeelProcess.NO_POOL);
            }
            JsonNode settled = keel.api().awaitSettled(id);
            assertThat(settled.get("state").asText()).isEqualTo("failed");
            assertThat(settled.get("state_reason").asText())
                    .isEqualTo("Provisioning was interrupted 3 times; delete this database and create a new one.");
            assertThat(keel.log()).contains("Reconciler decision: GIVE_UP");
            Footprint.assertMatchesApi(keel.api(), dataDir);
            keel.api().deprovision(id);
        } finally {
            keel.stop();
            dev.keel.Keel.stopServers(dataDir);
        }
    }

    @Test
    void killNineDuringDeletionFinishesTheDeletionOnTheNextStart() throws Exception {
        Path dataDir = TestKeel.freshDataDir("crash-delete");
        TestKeel.Ports ports = TestKeel.nextPorts();
        KeelProcess keel = KeelProcess.start(dataDir, ports, "0", KeelProcess.NO_POOL);
        try {
            HungDeletion deletion = HungDeletion.start(keel, dataDir);
            keel.kill9();
            Footprint.signal("CONT", deletion.postmaster());

            keel = KeelProcess.start(dataDir, ports, "1", KeelProcess.NO_POOL);
            deletion.assertFinishedBy(keel, dataDir);
        } finally {
            keel.stop();
            dev.keel.Keel.stopServers(dataDir);
        }
    }

    /**
     * A stop ({@code SIGTERM}) waits for running work only up to {@code keel.shutdown.grace-seconds}:
     * a deletion held by a hung server does not keep Keel from stopping. Keel says what was still
     * busy, exits as a signal would, and its next start finishes the deletion.
     */
    @Test
    void aStopPastItsGraceEndsKeelAndTheNextStartFinishesTheWork() throws Exception {
        Path dataDir = TestKeel.freshDataDir("crash-stop-grace");
        TestKeel.Ports ports = TestKeel.nextPorts();
        Map<String, String> env = Map.of("KEEL_INSTANCES_POOL_SIZE", "0", "KEEL_SHUTDOWN_GRACE_SECONDS", "3");
        KeelProcess keel = KeelProcess.start(dataDir, ports, "0", env);
        try {
            HungDeletion deletion = HungDeletion.start(keel, dataDir);
            long before = System.nanoTime();
            keel.signalStop();
            int status = keel.awaitExit(Timeouts.PROCESS_EXIT);
            double seconds = (System.nanoTime() - before) / 1e9;
            assertThat(status).isEqualTo(143);
            assertThat(seconds).as("seconds from SIGTERM to exit, with a grace of 3").isBetween(2.5, 15.0);
            assertThat(keel.log()).contains("Keel did not stop within 3 s; ending now (what was unfinished resumes at the next start)")
                    .contains("keel-operation-");
            Footprint.signal("CONT", deletion.postmaster());

            keel = KeelProcess.start(dataDir, ports, "1", env);
            deletion.assertFinishedBy(keel, dataDir);
        } finally {
            keel.stop();
            dev.keel.Keel.stopServers(dataDir);
        }
    }

    /** A database whose deletion is under way and held in its first step by its server, stopped with SIGSTOP. */
    private record HungDeletion(String id, String operation, long postmaster, int port) {
        static HungDeletion start(KeelProcess keel, Path dataDir) throws Exception {
            JsonNode database = keel.api().provision("{\"plan\":\"essential-0\"}");
            String id = database.get("id").asText();
            int port = Pg.port(database.get("url").asText());
            long postmaster = Long.parseLong(java.nio.file.Files.readAllLines(
                    Path.of(Footprint.dataDirServing(dataDir, port), "postmaster.pid")).get(0).strip());
            Footprint.signal("STOP", postmaster);
            Api.Response deleted = keel.api().delete("/v1/databases/" + id);
            assertThat(deleted.status()).isEqualTo(202);
            String operation = deleted.json().get("progress").get("operation_id").asText();
            Wait.until("the deletion to start", Timeouts.DEPROVISION,
                    () -> keel.log().contains("Operation deprovision started database=" + id + " operation=" + operation));
            return new HungDeletion(id, operation, postmaster, port);
        }

        /** {@code keel} (started after the interruption) resumed the deletion and finished it, leaving nothing behind. */
        void assertFinishedBy(KeelProcess keel, Path dataDir) throws Exception {
            assertThat(keel.log()).contains("Reconciler decision: RESUME " + operation + ": finishing the deletion of database " + id
                    + ": Keel stopped during step 'removing instances'");
            keel.api().awaitGone(id);
            assertThat(Footprint.instanceDirs(dataDir)).isEmpty();
            assertThat(Footprint.runningInstanceDataDirs(dataDir)).isEmpty();
            assertThat(Footprint.portIsFree(port)).isTrue();
        }
    }

    /**
     * Watches, on a thread of its own, for an initdb (other than {@code seen}) making a data directory under
     * {@code dataDir}'s instances, polled every 5 ms, and freezes it with SIGSTOP as soon as it is found.
     */
    private static Future<Long> freezeNextInitdb(Path dataDir, Set<Long> seen) {
        String prefix = dev.keel.KeelHome.serverDirOf(dataDir).resolve("instances").toString();
        Set<Long> skip = Set.copyOf(seen);
        FutureTask<Long> watch = new FutureTask<>(() -> {
            long deadline = System.nanoTime() + Timeouts.PROVISION.toNanos();
            while (System.nanoTime() < deadline) {
                Optional<Long> pid = ProcessHandle.allProcesses()
                        .filter(p -> !skip.contains(p.pid()))
                        .filter(p -> p.info().command().map(c -> c.endsWith("/initdb")).orElse(false))
                        .filter(p -> {
                            List<String> args = p.info().arguments().map(List::of).orElse(List.of());
                            int d = args.indexOf("-D");
                            return d >= 0 && d + 1 < args.size() && args.get(d + 1).startsWith(prefix);
                        })
                        .map(ProcessHandle::pid)
                        .findFirst();
                if (pid.isPresent()) {
                    Footprint.signal("STOP", pid.get());
                    return pid.get();
                }
                Thread.sleep(5);
            }
            return null;
        });
        Thread thread = new Thread(watch, "initdb-watch");
        thread.setDaemon(true);
        thread.start();
        return watch;
    }

    /** The pid {@code watch} froze; a failure shows the end of {@code keel}'s log. */
    private static long awaitFrozen(Future<Long> watch, KeelProcess keel, int attempt) throws Exception {
        Long pid = watch.get(Timeouts.PROVISION.toSeconds() + 10, TimeUnit.SECONDS);
        if (pid == null) {
            List<String> log = keel.log().lines().toList();
            throw new AssertionError("no initdb within " + Timeouts.PROVISION + " at attempt " + attempt
                    + "; the end of Keel's log:\n" + String.join("\n", log.subList(Math.max(0, log.size() - 60), log.size())));
        }
        return pid;
    }

    /** Polls fast (a step may last less than Wait's usual interval) until the provisioning of {@code id} reached step {@code index} or went past it. */
    /**
     * The step database {@code id}'s provision is seen at, once it is at step {@code index} or
     * later and still creating; empty if it ended before it was seen there.
     */
    private static Optional<String> awaitStepAtLeast(Api api, String id, int index) {
        return Wait.until("database " + id + " to reach step " + PROVISION_STEPS.get(index), Timeouts.PROVISION, Duration.ofMillis(25),
                () -> {
                    JsonNode db = api.get("/v1/databases/" + id).json();
                    if (!"creating".equals(db.get("state").asText())) {
                        assertThat(db.get("state").asText()).as("a provision that ended before the kill: " + db).isEqualTo("available");
                        return Optional.of(Optional.<String>empty());
                    }
                    JsonNode progress = db.get("progress");
                    String step = progress == null || progress.isNull() ? null : progress.get("step").asText();
                    return step != null && PROVISION_STEPS.indexOf(step) >= index ? Optional.of(Optional.of(step)) : Optional.empty();
                });
    }
}
