package dev.keel.replication;

import dev.keel.databases.Plan;
import dev.keel.instances.Reconfiguration;
import dev.keel.postgres.ServerSession;
import dev.keel.Network;
import dev.keel.databases.ServerSettings;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseInfo;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseRemoving;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.Plans;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConfig;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceMaker;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.ReplicationSlots;
import dev.keel.operations.HostedWork;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.BeanProvider;
import io.micronaut.context.event.ApplicationEventListener;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.core.annotation.Order;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.LinkedHashMap;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Followers once they stream: their lag as their leader sees it, what {@code info} says about
 * them and their leaders, unfollowing (promotion into an independent primary), their settings
 * applied again after a plan change, an HA standby removed, and the slot a deleted follower leaves
 * on its leader.
 */
@Singleton
@Order(10)
public final class Followers implements DatabaseInfo.Lines, ApplicationEventListener<DatabaseRemoving> {
    private static final Logger LOG = LoggerFactory.getLogger(Followers.class);

    /** The steps {@link #unfollow} reports, in order. */
    public static final String PROMOTING = "promoting";
    public static final String CONFIGURING = "configuring as a primary";
    public static final String RELEASING = "dropping the slot on the leader";

    private static final int LAG_TIMEOUT_SECONDS = 2;
    /** How long a promotion may take before it counts as failed. */
    static final int PROMOTE_WAIT_SECONDS = 60;

    private final DatabaseLookup databases;
    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final Reconfiguration reconfiguration;
    private final InstanceMaker maker;
    private final ReplicationSlots slots;
    private final Plans plans;
    private final Network network;
    private final BeanProvider<HaMonitor> monitor;
    private final StandbyBuild standbys;
    private final ServerSettings serverSettings;
    private final OperationRepository operations;
    private final BeanProvider<FollowerWatch> watch;
    private final HostedWork hostedWork;

    Followers(BeanProvider<HaMonitor> monitor, DatabaseLookup databases, InstanceRepository instances, InstanceConnections connections, Reconfiguration reconfiguration,
              InstanceMaker maker, ReplicationSlots slots, Plans plans, Network network, StandbyBuild standbys,
              ServerSettings serverSettings, OperationRepository operations, BeanProvider<FollowerWatch> watch, HostedWork hostedWork) {
        this.hostedWork = hostedWork;
        this.operations = operations;
        this.watch = watch;
        this.serverSettings = serverSettings;
        this.databases = databases;
        this.instances = instances;
        this.connections = connections;
        this.reconfiguration = reconfiguration;
        this.maker = maker;
        this.slots = slots;
        this.plans = plans;
        this.network = network;
        this.monitor = monitor;
        this.standbys = standbys;
    }

    /**
     * A follower's lag: {@code bytes} of WAL its leader has written that it has not replayed, and
     * {@code seconds} that replay is behind (0 when it has caught up); both null when unknown,
     * with {@code status} saying why ("streaming", or what is wrong).
     */
    public record Lag(@Nullable Long bytes, @Nullable Double seconds, String status) {
    }

    /** The HA status of {@code database} ("Available", or why not), or null for a database on a plan without HA. */
    @Nullable
    public String haStatus(Database database) {
        boolean ha = plans.find(database.plan()).map(Plan::ha).orElse(false);
        return ha && !database.following() ? monitor.get().availability(database) : null;
    }

    /** How far {@code follower} is behind its leader now (asked of the leader's server). */
    public Lag lag(Database follower) {
        Optional<Operation> rebuild = operations.running(follower.id(), EnumSet.of(OperationKind.REBUILD));
        if (rebuild.isPresent()) {
            String step = rebuild.get().step();
            return new Lag(null, null, step != null && step.startsWith("rebuilding") ? step : "rebuilding (because " + step + ")");
        }
        Optional<Instance> leader = Optional.ofNullable(follower.leaderId()).flatMap(instances::primary);
        if (leader.isEmpty()) {
            return new Lag(null, null, "its leader has no server");
        }
        // Briefly: a GET of the follower waits for this, and a hung leader must not hold it.
        try (ServerSession session = connections.probe(leader.get(), LAG_TIMEOUT_SECONDS)) {
            Optional<ServerSession.Replica> replica = session.replica(ReplicationSlots.forFollower(follower.id()));
            if (replica.isEmpty()) {
                return new Lag(null, null, "not connected to its leader" + watch.get().trouble(follower.id())
                        .map(verdict -> ": " + verdict.sentence()).orElse(""));
            }
            Long bytes = replica.get().lagBytes();
            Double seconds = replica.get().replayLagSeconds();
            // replay_lag is null once the follower has caught up and the leader writes nothing new
            Double lagSeconds = seconds != null ? seconds : bytes != null && bytes == 0 ? Double.valueOf(0) : null;
            return new Lag(bytes, lagSeconds, replica.get().state());
        } catch (SQLException e) {
            return new Lag(null, null, "its leader does not answer");
        }
    }

    /**
     * Promotes {@code follower} into an independent, writable database: its own superuser
     * password, its plan's settings, no slot on its leader any more. May run again after a crash;
     * reports each step ({@link #PROMOTING}, {@link #CONFIGURING}, {@link #RELEASING}) on {@code onStep}.
     */
    public void unfollow(Database follower, Consumer<String> onStep) throws Exception {
        Instance instance = instances.primary(follower.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                follower.name() + " has no server to promote."));
        onStep.accept(PROMOTING);
        try (ServerSession session = connections.open(instance, "postgres")) {
            session.promote(PROMOTE_WAIT_SECONDS, follower.name());
        }
        onStep.accept(CONFIGURING);
        // Until now it had its leader's superuser and password; a primary of its own gets its own (again, when resumed).
        maker.rotateSuperuserPassword(instance, connections);
        reconfiguration.apply(instance, maker.settings(instance, serverSettings.of(follower)),
                InstanceConfig.hba(follower.pgDatabase(), network.keelSources()));
        onStep.accept(RELEASING);
        release(follower);
    }

    /** Applies a follower's settings again (after its plan, its leader's plan or its own settings changed); it keeps streaming. */
    public void reconfigure(Database follower) throws Exception {
        reconfigureAll(List.of(follower));
    }

    /**
     * {@link #reconfigure} of each of {@code followers}: those on other nodes are handed to their
     * nodes first and waited for together, so that a leader's plan change waits one patience for
     * all of them, not one per follower.
     */
    public void reconfigureAll(List<Database> followers) throws Exception {
        Map<Database, String> elsewhere = new LinkedHashMap<>();
        List<Database> here = new ArrayList<>();
        for (Database follower : followers) {
            Optional<String> host = instances.primary(follower.id()).flatMap(hostedWork::otherHost);
            host.ifPresentOrElse(h -> elsewhere.put(follower, h), () -> here.add(follower));
        }
        // Every node able to take its part before any is handed one, so that a refusal leaves nothing half asked.
        elsewhere.forEach((follower, host) -> hostedWork.requireTaker(host, "Applying follower " + follower.name() + "'s settings"));
        List<HostedWork.Handed> handed = new ArrayList<>();
        for (Map.Entry<Database, String> follower : elsewhere.entrySet()) {
            handed.add(hostedWork.handOver(follower.getValue(), follower.getKey().teamId(), follower.getKey().id(), OperationKind.RECONFIGURE,
                    "applying its settings", "Applying follower " + follower.getKey().name() + "'s settings"));
        }
        for (Database follower : here) {
            reconfigureHere(follower);
        }
        hostedWork.await(handed);
    }

    private void reconfigureHere(Database follower) throws Exception {
        Database leader = databases.find(follower.leaderId()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                follower.name() + "'s leader is gone."));
        Instance leaderPrimary = instances.primary(leader.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                follower.name() + "'s leader " + leader.name() + " has no server."));
        repoint(follower, leader, leaderPrimary);
    }

    /** Removes {@code database}'s HA standby, if it has one: its server, its data, its slot on the primary. */
    public void removeStandby(Database database) throws SQLException {
        // Commits stop waiting for it first (with the standby gone they would wait for ever), and again once it is
        // gone: also when an earlier attempt removed the standby but not the setting.
        letCommitsGo(database);
        standbys.remove(database);
        letCommitsGo(database);
    }

    private void letCommitsGo(Database database) throws SQLException {
        Optional<Instance> primary = database.following() ? Optional.empty() : instances.primary(database.id());
        if (primary.isPresent()) {
            try (ServerSession session = connections.open(primary.get(), "postgres")) {
                session.synchronousStandby(null);
            }
        }
    }

    /**
     * Points every available follower of {@code leader} that has a server at {@code primary}, the
     * leader's new one (after a failover, or a primary made anew from the archive). A follower
     * without a server is left: it is being rebuilt ({@link FollowerRebuild} points it at the
     * leader's primary of the moment when it ends), or the follower watch rebuilds it.
     */
    public void followNewPrimary(Database leader, Instance primary) throws SQLException {
        for (Database follower : databases.followers(leader.id())) {
            if (follower.state() != DatabaseState.AVAILABLE) {
                continue;
            }
            if (instances.primary(follower.id()).isEmpty()) {
                LOG.warn("Database {}: follower {} has no server now; it is pointed at the new primary when it is rebuilt",
                        leader.name(), follower.name());
                continue;
            }
            repoint(follower, leader, primary);
        }
    }

    /**
     * Points a follower at its leader's new primary (after a failover): a slot there, and its
     * {@code primary_conninfo} changed, which a reload applies; it follows the timeline switch. A
     * follower another node hosts is handed to that node, which re-points it from the catalog
     * (this returns at once: a failover does not wait for its followers).
     */
    void repoint(Database follower, Database leader, Instance leaderPrimary) throws SQLException {
        Instance instance = instances.primary(follower.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                follower.name() + " has no server to re-point."));
        if (hostedWork.otherHost(instance).isPresent()) {
            Optional<Operation> handed = hostedWork.handOverTo(instance.node(), follower.teamId(), follower.id(), OperationKind.RECONFIGURE,
                    "following " + leader.name() + "'s new primary");
            if (handed.isPresent()) {
                LOG.info("Follower {} is hosted by node {}, which re-points it (operation {})", follower.name(), instance.node(),
                        handed.get().id());
            } else {
                LOG.warn("Follower {} is hosted by node {}, which runs another version of Keel: it is not re-pointed at {}'s new"
                        + " primary; once that node is upgraded, apply its settings again (heroku pg:settings) to re-point it",
                        follower.name(), instance.node(), leader.name());
            }
            return;
        }
        ReplicationSlots.Stream stream = slots.ensure(leaderPrimary, follower.id(), ReplicationSlots.forFollower(follower.id()));
        Plan plan = plans.require(follower.plan());
        int limit = Math.max(plan.connections(), plans.require(leader.plan()).connections());
        reconfiguration.apply(instance, stream.over(maker.settings(instance, serverSettings.of(follower)), limit),
                InstanceConfig.hba(follower.pgDatabase(), network.keelSources()));
    }

    /** Drops the follower's slot (and role) on its leader, or forgets it when the leader has no server. */
    private void release(Database follower) throws SQLException {
        String slot = ReplicationSlots.forFollower(follower.id());
        Optional<Instance> leader = Optional.ofNullable(follower.leaderId()).flatMap(instances::primary);
        if (leader.isPresent()) {
            slots.drop(leader.get(), slot);
        } else {
            slots.forget(slot);
        }
    }

    @Override
    public void onApplicationEvent(DatabaseRemoving event) {
        databases.find(event.databaseId()).filter(Database::following).ifPresent(follower -> {
            try {
                release(follower);
            } catch (SQLException e) {
                LOG.warn("Could not drop the slot of deleted follower {} on its leader; its leader keeps WAL for it, up to {}",
                        follower.name(), InstanceConfig.MAX_SLOT_WAL_KEEP_SIZE, e);
                slots.forget(ReplicationSlots.forFollower(follower.id()));
            }
        });
    }

    @Override
    public List<DatabaseInfo.Line> lines(Database database) {
        List<DatabaseInfo.Line> lines = new ArrayList<>();
        if (database.following()) {
            databases.find(database.leaderId()).ifPresent(leader -> lines.add(DatabaseInfo.Line.of("Following", leader.name())));
            if (database.state() == DatabaseState.AVAILABLE) {
                Lag lag = lag(database);
                lines.add(DatabaseInfo.Line.of("Behind By", lag.bytes() == null ? "unknown: " + lag.status()
                        : lag.bytes() + " bytes" + (lag.seconds() == null ? "" : String.format(Locale.ROOT, ", %.1f s", lag.seconds()))));
            }
        }
        List<String> followers = databases.followers(database.id()).stream().filter(f -> f.state() != DatabaseState.DELETING)
                .map(Database::name).toList();
        if (!followers.isEmpty()) {
            lines.add(new DatabaseInfo.Line("Followers", followers));
        }
        return lines;
    }
}
