package dev.keel.replication;

import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.instances.InstanceRole;
import dev.keel.instances.InstanceState;
import dev.keel.nodes.ThisNode;
import dev.keel.postgres.Postmaster;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.SilentNodes;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import io.micronaut.context.ApplicationContext;
import org.jooq.DSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.lang.management.ThreadInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import static dev.keel.catalog.schema.Tables.INSTANCES;
import static dev.keel.catalog.schema.Tables.NODES;
import static dev.keel.catalog.schema.Tables.STANDBY_FENCE_ACKS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The vouch of a standby's node for a primary another node hosts ({@link HaMonitor#vouch}), which
 * that node's self-fence counts as its primary's witness: a node that hosts neither server any
 * more vouches for nothing; one that is failing the primary over vouches no more, unless its
 * failover stopped before it fenced the primary in the catalog; and a vouch and a takeover meet
 * under the watch's lock, so that a vouch is either counted (the takeover then waits for it) or
 * refused. Each test drives a monitor of its own, made from the shared Keel's beans and never
 * started, against real servers and the real catalog; the shared Keel's own monitor runs beside it.
 */
@ExtendWith(SharedKeel.class)
@ResourceLock(SharedKeel.NODES)
class HaVouchTest {
    /** Longer ago than any T_fence the standby's node counts a primary's silence for. */
    private static final Duration LONG_AGO = Duration.ofMinutes(1);

    @Test
    void aNodeThatHostsNeitherServerAnyMoreVouchesForNothing(TestKeel keel) {
        withPremiumAndSilentNode(keel, "ha-vouch-role", (catalog, here, elsewhere, id, primary, standby, database, monitor) -> {
            // The standby on another node: this node, which hosts the primary, says that its self-fence covers it, the word
            // without which that node never fails the primary over from elsewhere (a node that fell silent before it saw
            // its standby may not have fenced its primary).
            StandbyFenceAcks acks = keel.bean(StandbyFenceAcks.class);
            moveTo(catalog, standby, elsewhere);
            catalog.deleteFrom(STANDBY_FENCE_ACKS).where(STANDBY_FENCE_ACKS.STANDBY_ID.eq(standby.id())).execute();
            // Given once the fence guard's watch lists the primary (the shared Keel's self-fence writes it: its monitor checks
            // the database too).
            Wait.until("the primary's node to say its self-fence covers the standby elsewhere", Timeouts.HA_CHECK, () -> {
                monitor.check(database);
                return acks.acknowledged(standby.id(), primary.id(), here);
            });
            assertThat(catalog.fetchValue(STANDBY_FENCE_ACKS.NODE, STANDBY_FENCE_ACKS.STANDBY_ID.eq(standby.id()))).isEqualTo(here);
            assertThat(acks.acknowledged(standby.id(), UUID.randomUUID(), here)).as("for another primary").isFalse();
            // A Keel that starts withdraws its node's word; and a node an operator forgot needs none (its servers were stopped).
            acks.withdraw(here);
            assertThat(acks.acknowledged(standby.id(), primary.id(), here)).as("withdrawn").isFalse();
            assertThat(acks.acknowledged(standby.id(), primary.id(), elsewhere)).as("a silent node, not forgotten").isFalse();
            catalog.update(NODES).set(NODES.FORGOTTEN_AT, OffsetDateTime.now()).where(NODES.NAME.eq(elsewhere)).execute();
            assertThat(acks.acknowledged(standby.id(), primary.id(), elsewhere)).as("a forgotten node").isTrue();
            catalog.update(NODES).set(NODES.FORGOTTEN_AT, (OffsetDateTime) null).where(NODES.NAME.eq(elsewhere)).execute();
            moveTo(catalog, standby, here);

            // The primary moves to another node (one of another version, which this node never fails over): this node,
            // which hosts the standby, watches it from the standby's side, and vouches for it.
            moveTo(catalog, primary, elsewhere);
            Wait.until("the monitor to watch the primary from the standby's side and vouch for it", Timeouts.HA_CHECK, () -> {
                monitor.check(database);
                return monitor.vouch(primary.id(), standby.id()) == null;
            });

            // The standby moves there too: this node hosts neither any more, and vouches for nothing.
            moveTo(catalog, standby, elsewhere);
            String refusal = Wait.until("the monitor to leave its watch of a database it hosts no server of", Timeouts.HA_CHECK, () -> {
                monitor.check(database);
                return Optional.ofNullable(monitor.vouch(primary.id(), standby.id()));
            });
            assertThat(refusal).isEqualTo("node " + here + " does not watch it");
        });
    }

    @Test
    void thePrimaryOfANodeThatGaveNoWordIsNotFailedOverFromTheStandbysNodeNorItsStandbyPromotedOnceFencedThereUntilItDoes(TestKeel keel) {
        withPremiumAndSilentNode(keel, "ha-no-word", (catalog, here, elsewhere, id, primary, standby, database, monitor) -> {
            // The silent node of this version: one whose primary this node fails over from here, given its word.
            catalog.update(NODES).set(NODES.VERSION, keel.bean(ThisNode.class).version()).where(NODES.NAME.eq(elsewhere)).execute();
            InstanceRepository instances = keel.bean(InstanceRepository.class);
            // The primary on that node, which never said its self-fence covers this standby, and its port shut.
            moveTo(catalog, primary, elsewhere);
            keel.bean(InstanceRuntime.class).stop(primary);
            HaDecisionRepository decisions = keel.bean(HaDecisionRepository.class);
            String refused = Wait.until("the standby's node to refuse the failover", Timeouts.HA_CHECK, () -> {
                monitor.check(database);
                return decisions.recent(id, 5).stream().map(HaMonitor.Recorded::sentence)
                        .filter(sentence -> sentence.contains("had not yet said that its self-fence covers this standby")).findFirst();
            });
            assertThat(refused).startsWith("not failing over although node " + elsewhere + ", which hosts the primary, has been silent");
            assertThat(instances.primary(id).map(Instance::id)).as("no failover").contains(primary.id());
            assertThat(instances.standby(id).map(Instance::id)).contains(standby.id());

            // The primary fenced in the catalog (by its own node, say, which fell silent before it killed it): the standby is
            // not promoted either, until that node says its self-fence covers the standby. An older primary fenced there by an
            // earlier failover, with no word (none is given for a server fenced before), does not hold the promotion back.
            UUID older = UUID.randomUUID();
            int closed = closedPort();
            catalog.insertInto(INSTANCES).set(INSTANCES.ID, older).set(INSTANCES.DATABASE_ID, id).set(INSTANCES.ROLE, "primary")
                    .set(INSTANCES.STATE, InstanceState.FENCED.value()).set(INSTANCES.MAJOR_VERSION, primary.major())
                    .set(INSTANCES.HOST, "127.0.0.1").set(INSTANCES.PORT, closed).set(INSTANCES.SUPERUSER_PASSWORD, new byte[] {0})
                    .set(INSTANCES.CREATED_AT, OffsetDateTime.now().minusHours(2)).set(INSTANCES.UPDATED_AT, OffsetDateTime.now().minusHours(1))
                    .set(INSTANCES.NODE, elsewhere).execute();
            try {
                instances.transition(primary.id(), InstanceState.FENCED);
                String notPromoted = Wait.until("the standby's node to refuse the promotion", Timeouts.HA_CHECK, () -> {
                    monitor.check(database);
                    return decisions.recent(id, 5).stream().map(HaMonitor.Recorded::sentence)
                            .filter(sentence -> sentence.contains("had not said that its self-fence covers it,")).findFirst();
                });
                assertThat(notPromoted).startsWith("not promoting the standby: its fenced old primary is on node " + elsewhere);
                assertThat(instances.primary(id)).as("not promoted").isEmpty();
                keel.bean(StandbyFenceAcks.class).acknowledge(standby.id(), primary.id(), elsewhere);
                Wait.until("the standby to be promoted once the node's word is there", Timeouts.HA_CHECK, () -> {
                    monitor.check(database);
                    return instances.primary(id).filter(p -> p.id().equals(standby.id()) && p.state() == InstanceState.RUNNING);
                });
            } finally {
                catalog.deleteFrom(INSTANCES).where(INSTANCES.ID.eq(older)).execute();
            }
        });
    }

    /** A port of this host nothing listens on (free a moment ago). */
    private static int closedPort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What a test is given by {@link #withPremiumAndSilentNode}. */
    @FunctionalInterface
    private interface PremiumAndSilentNode {
        void test(DSLContext catalog, String here, String elsewhere, UUID id, Instance primary, Instance standby, Database database,
                  HaMonitor monitor);
    }

    /**
     * Runs {@code test} with a premium database of a new team whose standby runs, a monitor of its
     * own, and a silent node of another version ({@code elsewhere}); after it, every server the test
     * moved there comes back here, the database is deprovisioned and the node deleted.
     */
    private static void withPremiumAndSilentNode(TestKeel keel, String team, PremiumAndSilentNode test) {
        DSLContext catalog = keel.bean(DSLContext.class);
        InstanceRepository instances = keel.bean(InstanceRepository.class);
        String here = keel.bean(ThisNode.class).name();
        String elsewhere = SilentNodes.add(catalog, team);
        try {
            Api api = keel.newTeam(team);
            UUID id = UUID.fromString(api.provision("{\"plan\":\"premium-0\"}").get("id").asText());
            try {
                Instance primary = instances.primary(id).orElseThrow();
                Instance standby = Wait.until("the standby to run", Timeouts.HA_STANDBY,
                        () -> instances.standby(id).filter(s -> s.state() == InstanceState.RUNNING));
                test.test(catalog, here, elsewhere, id, primary, standby, keel.bean(DatabaseLookup.class).find(id).orElseThrow(),
                        keel.bean(ApplicationContext.class).createBean(HaMonitor.class));
            } finally {
                catalog.update(INSTANCES).set(INSTANCES.NODE, here).where(INSTANCES.DATABASE_ID.eq(id))
                        .and(INSTANCES.NODE.eq(elsewhere)).execute();
                api.deprovision(id.toString());
            }
        } finally {
            catalog.deleteFrom(NODES).where(NODES.NAME.eq(elsewhere)).execute();
        }
    }

    @Test
    void aPrimaryWhosePortDoesNotAcceptAConnectionFromHereIsNotVouchedFor(TestKeel keel) throws Exception {
        int closed = closedPort();
        Instance primary = new Instance(UUID.randomUUID(), UUID.randomUUID(), InstanceRole.PRIMARY, InstanceState.RUNNING, 17, "127.0.0.1",
                closed, "ha-vouch-elsewhere");
        HaMonitor monitor = keel.bean(ApplicationContext.class).createBean(HaMonitor.class);
        Instance standby = watchFromStandbysNode(keel, monitor.watch(primary.databaseId()), primary);
        assertThat(monitor.vouch(primary.id(), standby.id())).isEqualTo("its port did not accept a connection from node "
                + keel.bean(ThisNode.class).name() + " within 250 ms");
    }

    @Test
    void aFailoverFromHereThatStoppedBeforeItFencedThePrimaryLetsTheNodeVouchAgainAndOneThatFencedItDoesNot(TestKeel keel) {
        Api team = keel.newTeam("ha-vouch-again");
        UUID id = UUID.fromString(team.provision("{\"plan\":\"essential-0\"}").get("id").asText());
        dev.keel.testing.ArchiveWaits.awaitInitialBackup(team, id.toString()); // its first backup does not meet the fence below
        try {
            InstanceRepository instances = keel.bean(InstanceRepository.class);
            Instance primary = instances.primary(id).orElseThrow();
            HaMonitor monitor = keel.bean(ApplicationContext.class).createBean(HaMonitor.class);
            HaMonitor.Watch watch = monitor.watch(id);
            Instance standby = watchFromStandbysNode(keel, watch, primary);
            String failingOver = "node " + keel.bean(ThisNode.class).name() + " is failing it over";

            assertThat(monitor.takeOver(watch)).as("a primary out of reach for a minute is taken over").isTrue();
            assertThat(monitor.vouch(primary.id(), standby.id())).as("a primary being failed over").isEqualTo(failingOver);
            // The failover stopped before it fenced the primary in the catalog (which still names it the primary).
            monitor.vouchAgainUnlessFenced(watch, watch.primary);
            assertThat(monitor.vouch(primary.id(), standby.id())).as("a primary the failover did not fence").isNull();

            outOfReachLongAgo(watch);
            assertThat(monitor.takeOver(watch)).isTrue();
            // This failover fenced it in the catalog (its first step), then stopped.
            instances.transition(primary.id(), InstanceState.FENCED);
            monitor.vouchAgainUnlessFenced(watch, watch.primary);
            assertThat(monitor.vouch(primary.id(), standby.id())).as("a primary the failover fenced").isEqualTo(failingOver);
            // The shared Keel's monitor kills the server the catalog says is fenced; its fence ends with the signal that leaves it
            // read-only. Deleted meanwhile, the server's directory would meet the fence's last files.
            Path data = keel.instanceDataDir(primary.id());
            Wait.until("the shared Keel's monitor to fence the server", Timeouts.PROCESS_EXIT,
                    () -> !Postmaster.isRunning(data) && Files.exists(data.resolve(InstanceRuntime.RecoverySignal.STANDBY.file())));
        } finally {
            team.deprovision(id.toString());
        }
    }

    @Test
    void aVouchAndATakeoverMeetUnderTheWatchsLockSoThatAVouchIsCountedOrRefused(TestKeel keel) throws Exception {
        Api team = keel.newTeam("ha-vouch-lock");
        UUID id = UUID.fromString(team.provision("{\"plan\":\"essential-0\"}").get("id").asText());
        dev.keel.testing.ArchiveWaits.awaitInitialBackup(team, id.toString()); // its first backup does not meet the fence below
        try {
            Instance primary = keel.bean(InstanceRepository.class).primary(id).orElseThrow();
            HaMonitor monitor = keel.bean(ApplicationContext.class).createBean(HaMonitor.class);
            HaMonitor.Watch watch = monitor.watch(id);
            Instance standby = watchFromStandbysNode(keel, watch, primary);

            // A takeover holds the lock when the vouch comes: the vouch waits for it, and is refused.
            Met takeOverFirst = meet(monitor, watch, "take over", () -> monitor.takeOver(watch),
                    () -> monitor.vouch(primary.id(), standby.id()));
            assertThat(takeOverFirst.first()).as("the takeover").isEqualTo(true);
            assertThat(takeOverFirst.second()).as("the vouch after it").isEqualTo("node " + keel.bean(ThisNode.class).name()
                    + " is failing it over");

            // A vouch holds the lock when the takeover comes: the vouch is counted, and the takeover waits for its count.
            synchronized (watch) {
                watch.takingOver = false;
            }
            outOfReachLongAgo(watch);
            long beforeVouch = System.nanoTime();
            Met vouchFirst = meet(monitor, watch, "vouch", () -> monitor.vouch(primary.id(), standby.id()), () -> monitor.takeOver(watch));
            assertThat(vouchFirst.first()).as("the vouch").isNull();
            assertThat(vouchFirst.second()).as("the takeover after it").isEqualTo(false);
            Wait.until("the takeover once the vouch's count has passed", Timeouts.HA_CHECK, () -> monitor.takeOver(watch));
            assertThat(Duration.ofNanos(System.nanoTime() - beforeVouch)).as("the takeover came no sooner than fencedBy (T_fence, a round and 500 ms) after the vouch began")
                    .isGreaterThan(monitor.fencedBy());
        } finally {
            team.deprovision(id.toString());
        }
    }

    /** What two calls that met at the watch's lock returned, the one that held it first first. */
    private record Met(Object first, Object second) {
    }

    /**
     * Runs {@code first} on a thread of its own until it holds the lock of {@code watch} (its seam
     * {@code at} is told inside it), then {@code second} on another until that one waits for that
     * lock (or ends, should it not take it), then lets the first go on; returns what each returned.
     */
    private static Met meet(HaMonitor monitor, HaMonitor.Watch watch, String at, Supplier<Object> first, Supplier<Object> second)
            throws InterruptedException {
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        monitor.seam = what -> {
            if (what.equals(at) && inside.getCount() > 0) {
                inside.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        AtomicReference<Object> firstResult = new AtomicReference<>();
        AtomicReference<Object> secondResult = new AtomicReference<>();
        Thread firstThread = new Thread(() -> firstResult.set(first.get()), "ha-vouch-test-first");
        Thread secondThread = new Thread(() -> secondResult.set(second.get()), "ha-vouch-test-second");
        try {
            firstThread.start();
            assertThat(inside.await(Timeouts.LOCK_MET.toMillis(), TimeUnit.MILLISECONDS)).as("the first call to hold the lock").isTrue();
            secondThread.start();
            Wait.until("the second call to wait for the watch's lock, or to end", Timeouts.LOCK_MET, Duration.ofMillis(5),
                    () -> waitsFor(secondThread, watch) || secondThread.getState() == Thread.State.TERMINATED);
        } finally {
            release.countDown();
            firstThread.join(Timeouts.LOCK_MET.toMillis());
            secondThread.join(Timeouts.LOCK_MET.toMillis());
            monitor.seam = what -> { };
        }
        assertThat(firstThread.isAlive() || secondThread.isAlive()).as("both calls ended").isFalse();
        return new Met(firstResult.get(), secondResult.get());
    }

    /** Whether {@code thread} waits to enter the lock of {@code lock} (not any other). */
    private static boolean waitsFor(Thread thread, Object lock) {
        ThreadInfo info = ManagementFactory.getThreadMXBean().getThreadInfo(thread.getId());
        return info != null && info.getThreadState() == Thread.State.BLOCKED && info.getLockInfo() != null
                && info.getLockInfo().getIdentityHashCode() == System.identityHashCode(lock);
    }

    /**
     * Gives {@code watch} what a node that hosts the standby sees of {@code primary} on another node,
     * out of its reach for a minute; returns the standby, a server of this node.
     */
    private static Instance watchFromStandbysNode(TestKeel keel, HaMonitor.Watch watch, Instance primary) {
        Instance standby = new Instance(UUID.randomUUID(), primary.databaseId(), InstanceRole.STANDBY, InstanceState.RUNNING, primary.major(),
                primary.host(), primary.port() + 1, keel.bean(ThisNode.class).name());
        synchronized (watch) {
            watch.primary = new Instance(primary.id(), primary.databaseId(), primary.role(), primary.state(), primary.major(), primary.host(),
                    primary.port(), "ha-vouch-elsewhere");
            watch.standby = standby;
        }
        outOfReachLongAgo(watch);
        return standby;
    }

    /** As a node that has not reached the watch's primary, nor vouched for it, for a minute. */
    private static void outOfReachLongAgo(HaMonitor.Watch watch) {
        synchronized (watch) {
            watch.downSince = System.nanoTime() - LONG_AGO.toNanos();
            watch.vouchedAt = Long.MIN_VALUE;
        }
    }

    private static void moveTo(DSLContext catalog, Instance server, String node) {
        catalog.update(INSTANCES).set(INSTANCES.NODE, node).where(INSTANCES.ID.eq(server.id())).execute();
    }
}
